"""compare's scoring and timing of a trained encoder, on a test set larger than one scoring batch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch

from distillery.core import paths
from distillery.core.files import write_json, write_parquet
from distillery.evaluation.leaderboard import Timing, encoder_family
from distillery.students import bilstm


def test_an_encoder_is_scored_on_every_test_text_and_timed_on_the_first_few(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    model = bilstm.BiLSTMClassifier(vocab_size=20, embedding_dim=4, width=None, hidden=3, mlp=5, num_classes=2)
    bilstm.save(model, paths.trained("bilstm", "student") / "models" / "seed_7")
    rng = np.random.default_rng(0)
    rows = 600  # more than two of predict's batches of 256
    ids = [rng.integers(1, 20, size=rng.integers(1, 9)).tolist() for _ in range(rows)]
    test = pa.table({"input_ids": pa.array(ids, pa.list_(pa.int32())), "label": pa.array(rng.integers(0, 2, rows))})
    for folder in (paths.TOKENIZED, paths.student_tokens("bilstm")):
        folder.mkdir(parents=True)
    write_parquet(test, paths.tokenized("test"))
    write_json({"pad_id": 0}, paths.VOCAB)
    write_json({"backbone": "teacher"}, paths.student_tokens("bilstm") / "source.json")

    family = encoder_family("bilstm", "student", multi_label=False, timing=Timing(examples=300, seconds=0.01))

    assert family.logits[7].shape == (rows, 2)
    assert Timing(300, 0.01).throughput(family.score_timed, rows) > 0
    assert family.score_timed().shape == (300, 2)
