"""Each architecture's ONNX graph against its torch model on padded batches, and what ships after the gate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from distillery.export.bag_onnx import PaddedBag
from distillery.export.bilstm_onnx import UnpackedBiLSTM
from distillery.export.card import compression_line
from distillery.export.gate import Verdict
from distillery.export.onnx_graph import export_onnx, onnx_session, quantize_int8
from distillery.export.student import ship
from distillery.export.vocabulary import trim_vocabulary
from distillery.students.bag import BagOfEmbeddings
from distillery.students.bilstm import BiLSTMClassifier
from distillery.students.transformer import TransformerClassifier
from distillery.teacher.model import load_classifier
from distillery.training.batching import pad_batch

ROWS = [[2, 7, 9, 4, 11, 3], [2, 5, 3], [2, 3], [2, 8, 8, 8, 6, 10, 12, 3]]  # lengths differ: padding matters


def onnx_logits(graph: torch.nn.Module, path: Path, input_names: list[str], float_mask: bool) -> np.ndarray:
    batch = pad_batch(ROWS, pad_id=0)
    mask = batch["attention_mask"].float() if float_mask else batch["attention_mask"]
    export_onnx(graph, path, (batch["input_ids"][:2, :3], mask[:2, :3]), input_names)  # traced on another shape
    feed = dict(zip(input_names, (batch["input_ids"].numpy(), mask.numpy()), strict=True))
    return onnx_session(path).run(None, feed)[0]


def test_the_bilstm_graph_without_packing_matches_the_packed_student(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = BiLSTMClassifier(vocab_size=20, embedding_dim=6, width=4, hidden=5, mlp=7, num_classes=3).eval()
    batch = pad_batch(ROWS, pad_id=0)
    with torch.no_grad():
        reference = model(batch["input_ids"], batch["attention_mask"]).numpy()
        unpacked = UnpackedBiLSTM(model)(batch["input_ids"], batch["attention_mask"]).numpy()
    np.testing.assert_allclose(unpacked, reference, atol=1e-6)
    served = onnx_logits(UnpackedBiLSTM(model), tmp_path / "bilstm.onnx", ["input_ids", "attention_mask"], False)
    np.testing.assert_allclose(served, reference, atol=1e-5)


def test_the_transformer_graph_matches_torch(tmp_path: Path, tiny_teacher: Path) -> None:
    torch.manual_seed(0)
    model = TransformerClassifier(load_classifier(str(tiny_teacher), num_labels=2)).eval()
    batch = pad_batch(ROWS, pad_id=0)
    with torch.no_grad():
        reference = model(batch["input_ids"], batch["attention_mask"]).numpy()
    served = onnx_logits(model, tmp_path / "transformer.onnx", ["input_ids", "attention_mask"], False)
    np.testing.assert_allclose(served, reference, atol=1e-5)
    quantize_int8(tmp_path / "transformer.onnx", tmp_path / "transformer.int8.onnx")
    assert (tmp_path / "transformer.int8.onnx").stat().st_size < (tmp_path / "transformer.onnx").stat().st_size


def test_the_bag_graph_matches_torch(tmp_path: Path) -> None:
    import pyarrow as pa

    from distillery.students.bag import predict

    torch.manual_seed(0)
    bag = BagOfEmbeddings(20, 4, 3, skip_ids=(2, 3)).eval()
    reference = predict(bag, bag.pack(pa.chunked_array([pa.array(ROWS, pa.list_(pa.int32()))]))).numpy()
    kept = pad_batch([[i for i in row if i not in (2, 3)] or [0] for row in ROWS], pad_id=0)  # as predict.py reads
    mask = kept["attention_mask"].float() * torch.tensor([[float(len(row) > 2)] for row in ROWS])
    export_onnx(PaddedBag(bag), tmp_path / "bag.onnx", (kept["input_ids"], mask), ["input_ids", "mask"])
    served = onnx_session(tmp_path / "bag.onnx").run(
        None, {"input_ids": kept["input_ids"].numpy(), "mask": mask.numpy()}
    )
    np.testing.assert_allclose(served[0], reference, atol=1e-5)


@pytest.mark.parametrize("ships", [True, False])
def test_only_the_file_the_gate_chose_is_kept_and_the_card_says_why(tmp_path: Path, ships: bool) -> None:
    for name in ("model.onnx", "model.int8.onnx", "model.trimmed.int8.onnx"):
        (tmp_path / name).write_bytes(b"onnx")
    trimmed = "int8 with the vocabulary trimmed to the 9 of 20 tokens its training texts use"
    refused = Verdict(False, "accuracy", 0.85, 0.82, 1e-3, 0.9, f"{trimmed} lost 3.00 points of dev accuracy").to_json()
    reason = "int8 is within 0.5 points" if ships else "int8 lost 4.00 points of dev accuracy (more than 0.5)"
    verdict = Verdict(ships, "accuracy", 0.85, 0.85 if ships else 0.81, 0.9 if ships else 1e-6, 0.99, reason).to_json()
    shipped = ship(tmp_path, "model.int8.onnx" if ships else "model.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == [shipped]
    line = compression_line({"compression": verdict, "compression_tried": [refused, verdict]})
    assert line.startswith("int8 (ONNX Runtime dynamic quantization) ships" if ships else "float32 ships")
    assert reason in line and f"Refused first: {trimmed} lost 3.00 points" in line


def test_a_trimmed_vocabulary_reads_unseen_tokens_as_unk_and_changes_nothing_else(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = BiLSTMClassifier(vocab_size=20, embedding_dim=6, width=4, hidden=5, mlp=7, num_classes=3).eval()
    onnx_logits(UnpackedBiLSTM(model), tmp_path / "full.onnx", ["input_ids", "attention_mask"], False)
    seen, unk_id = np.array([0, 2, 3, 5, 7, 8, 9, 11]), 1  # ROWS also use 4, 6, 10 and 12: unseen in training
    kept, before = trim_vocabulary(tmp_path / "full.onnx", tmp_path / "trimmed.onnx", seen, unk_id)
    assert (kept, before) == (9, 20)
    full, trimmed = onnx_session(tmp_path / "full.onnx"), onnx_session(tmp_path / "trimmed.onnx")
    batch = pad_batch(ROWS, pad_id=0)
    as_unk = batch["input_ids"].clone()
    as_unk[~np.isin(as_unk.numpy(), [*seen, unk_id])] = unk_id

    def logits(session, ids: torch.Tensor) -> np.ndarray:  # noqa: ANN001
        return session.run(None, {"input_ids": ids.numpy(), "attention_mask": batch["attention_mask"].numpy()})[0]

    np.testing.assert_allclose(logits(trimmed, batch["input_ids"]), logits(full, as_unk), atol=1e-6)
    assert not np.allclose(logits(trimmed, batch["input_ids"]), logits(full, batch["input_ids"]), atol=1e-4)
    assert (tmp_path / "trimmed.onnx").stat().st_size < (tmp_path / "full.onnx").stat().st_size
