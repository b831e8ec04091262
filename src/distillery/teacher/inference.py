"""Batched teacher inference at a chosen precision: the teacher_logits, transfer_logits and compare stages.

- `auto` (the default): int8 where the teacher runs on the CPU, fp32 on a GPU.
- `fp32`: the torch model as trained (the reference).
- `bf16`: the torch model cast to bfloat16; fast on a GPU, and on a CPU with bf16 instructions
  (AVX-512 bf16 or AMX: 2.4x fp32 for the MPNet probe here, the same dev predictions); slower than fp32
  on a CPU without them, which the stage says.
- `int8`: CPU only. The model exported to ONNX and quantized to int8 as every export is
  (distillery.export.onnx_graph: per output channel, because per-tensor scales lost more accuracy
  here, docs/measurements.md; 7-bit weights, the same integers on every CPU).

Apart from training (teacher.py), so that the teacher is not retrained when inference changes.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from distillery.core.errors import DistilleryError
from distillery.export.onnx_graph import export_onnx, onnx_session, quantize_int8
from distillery.training.batching import length_sorted_batches, pad_batch

PRECISIONS = ("auto", "fp32", "bf16", "int8")

Scorer = Callable[[dict[str, torch.Tensor]], np.ndarray]


def check_precision(precision: str, device: str) -> None:
    if precision not in PRECISIONS:
        raise DistilleryError(f"params.yaml: 'teacher.infer_precision' must be one of {PRECISIONS}, got {precision!r}")
    if precision == "int8" and device == "cuda":
        raise DistilleryError(
            "params.yaml: 'teacher.infer_precision: int8' runs on the CPU (ONNX Runtime) but 'teacher.device' is "
            "cuda: use bf16 on a GPU, or set teacher.device to cpu"
        )


def resolve_precision(precision: str, device: str) -> str:
    """The precision `precision` names on `device` (teacher.device): `auto` is int8 on the CPU, where it
    scores 1.6-1.8x as fast as fp32 and the students trained on its logits lost nothing
    (docs/measurements.md), and fp32 on a GPU."""
    check_precision(precision, device)
    if precision != "auto":
        return precision
    on_gpu = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    return "fp32" if on_gpu else "int8"


def native_cpu_bf16() -> bool:
    """Whether this CPU multiplies bf16 in hardware (oneDNN's own check)."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def torch_scorer(model: torch.nn.Module, device: torch.device, dtype: torch.dtype) -> Scorer:
    model = model.to(device=device, dtype=dtype).eval()

    @torch.inference_mode()
    def score(inputs: dict[str, torch.Tensor]) -> np.ndarray:
        return model(**{key: value.to(device) for key, value in inputs.items()}).logits.float().cpu().numpy()

    return score


def int8_scorer(model: torch.nn.Module) -> Scorer:
    """An ONNX Runtime session of the model with 7-bit weights (per output channel) and dynamic 8-bit activations."""
    model = model.float().cpu().eval()
    example = pad_batch([[0, 1, 2], [0, 1]], pad_id=0)
    with tempfile.TemporaryDirectory(prefix="distillery-int8-") as scratch:
        fp32_file, int8_file = Path(scratch) / "fp32.onnx", Path(scratch) / "int8.onnx"
        try:
            export_onnx(model, fp32_file, (example["input_ids"], example["attention_mask"]), list(example))
        except Exception as error:  # noqa: BLE001 - any exporter failure means the same thing to the user
            raise DistilleryError(
                f"teacher.infer_precision: int8 needs the teacher exported to ONNX, which failed "
                f"({type(error).__name__}: {str(error).splitlines()[0]}); use fp32 for this teacher"
            ) from None
        quantize_int8(fp32_file, int8_file)
        session = onnx_session(int8_file, torch.get_num_threads())

    def score(inputs: dict[str, torch.Tensor]) -> np.ndarray:
        return session.run(None, {key: value.numpy() for key, value in inputs.items()})[0].astype(np.float32)

    return score


class TeacherScorer:
    """The teacher made ready to score at one precision (converted once), then used for any number of texts.

    `precision` is the one it runs at (`auto` resolved). The model is moved and converted in place.
    Under `accelerate launch`/`torchrun` each process scores its share of the batches and every
    process gets the full result back.
    """

    def __init__(self, model: torch.nn.Module, device: str = "auto", precision: str = "fp32") -> None:
        from accelerate import Accelerator

        self.precision = precision = resolve_precision(precision, device)
        self.accelerator = Accelerator(cpu=device == "cpu" or precision == "int8")
        self.num_labels = model.config.num_labels
        if precision == "bf16" and self.accelerator.device.type == "cpu" and not native_cpu_bf16():
            print(
                "teacher: this CPU has no bf16 instructions (AVX-512 bf16 or AMX), so bf16 is emulated and slower "
                "than fp32 here: set teacher.infer_precision: fp32"
            )
        if precision == "int8":
            self.score = int8_scorer(model)
        else:
            dtype = torch.bfloat16 if precision == "bf16" else torch.float32
            self.score = torch_scorer(model, self.accelerator.device, dtype)

    def logits(
        self, token_ids: list[list[int]], pad_id: int, batch_size: int, progress: str | None = None
    ) -> np.ndarray:
        """Logits [N, C] as float32, in the input order."""
        from tqdm import tqdm

        accelerator = self.accelerator
        batches = length_sorted_batches(token_ids, batch_size)
        mine = batches[accelerator.process_index :: accelerator.num_processes]
        scored = []
        for rows in tqdm(mine, desc=progress, disable=progress is None or not accelerator.is_main_process):
            scored.append((rows, self.score(pad_batch([token_ids[i] for i in rows], pad_id))))
        if accelerator.num_processes > 1:
            from accelerate.utils import gather_object

            scored = gather_object(scored)
        result = np.zeros((len(token_ids), self.num_labels), dtype=np.float32)
        for rows, logits in scored:
            result[rows] = logits
        return result
