"""A classifier as an ONNX file, its dynamic int8 copy, and an ONNX Runtime session for either: what the
teacher's int8 inference and every export use.

int8 is ONNX Runtime's dynamic quantization: weights (the embedding tables included) stored as int8 per
output channel, activations quantized per batch at run time. Weights use 7 of the 8 bits
(`reduce_range`): x86 CPUs without VNNI multiply uint8 activations by int8 weights with an instruction
whose int16 pair sums saturate, which ONNX Runtime's quantization docs name as a cause of accuracy
loss; with 7-bit weights no pair sum can saturate, so every CPU computes the same integers.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import torch

OPSET = 17


def export_onnx(model: torch.nn.Module, path: Path, example: tuple[torch.Tensor, ...], input_names: list[str]) -> None:
    """model(*inputs) -> logits as ONNX, every input's batch and length dynamic."""
    dynamic = {name: {0: "batch", 1: "tokens"} for name in input_names}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on Python control flow over shapes
        torch.onnx.export(
            model.eval(),
            example,
            str(path),
            input_names=input_names,
            output_names=["logits"],
            dynamic_axes=dynamic | {"logits": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,  # the TorchScript exporter: these graphs need nothing newer, nor onnxscript
        )


def quantize_int8(fp32: Path, int8: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantizer_log = logging.getLogger()
    level = quantizer_log.level
    quantizer_log.setLevel(logging.ERROR)  # its advice to pre-process applies to static quantization
    try:
        quantize_dynamic(fp32, int8, per_channel=True, reduce_range=True, weight_type=QuantType.QInt8)
    finally:
        quantizer_log.setLevel(level)


def onnx_session(path: Path, threads: int = 0) -> object:
    """A CPU session, deterministic; `threads` 0 lets ONNX Runtime choose."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.use_deterministic_compute = True
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
