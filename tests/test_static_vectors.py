"""The bag's static start (students/static_vectors.py, stage bag_vectors): word pieces encoded alone,
PCA, Zipf weights; student and twin start from the same table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

from conftest import fails_cleanly, ran_stages, run, update_params
from distillery.core.errors import DistilleryError
from distillery.students.static_vectors import (
    principal_components,
    random_start_norm,
    static_table,
    token_inputs,
    zipf_weights,
)
from distillery.teacher.model import load_encoder
from distillery.teacher.probe import Pooling
from distillery.teacher.tokens import load_tokenizer


def test_zipf_weights_are_the_log_of_each_tokens_frequency_rank() -> None:
    # ids 0..4: counts 5, 0, 9, 5, 0 -> ranks 2, 4, 1, 3, 5 (ties, and tokens never seen, in id order)
    weights = zipf_weights(np.array([5, 0, 9, 5, 0]))
    np.testing.assert_allclose(weights, np.log1p([2, 4, 1, 3, 5]))


def test_principal_components_match_an_svd_and_fix_their_signs() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(200, 6)) * np.array([5.0, 3.0, 2.0, 1.0, 0.5, 0.1])
    projected = principal_components(vectors.astype(np.float32), 3)
    centred = vectors - vectors.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    reference = centred @ axes[:3].T
    signs = np.sign((projected * reference).sum(axis=0))  # an axis's sign is arbitrary in an SVD
    np.testing.assert_allclose(projected, reference * signs, atol=1e-6)
    assert np.all(np.diff(projected.var(axis=0)) < 0)  # the leading axis first
    # the same vectors in another order: the same axes, signs included
    np.testing.assert_allclose(principal_components(vectors[::-1].astype(np.float32), 3), projected[::-1], atol=1e-9)


def test_the_static_table_of_a_tiny_encoder(tiny_teacher: Path) -> None:
    tokenizer, encoder = load_tokenizer(str(tiny_teacher)), load_encoder(str(tiny_teacher))
    vocab_size, dim = len(tokenizer), 8
    counts = np.arange(vocab_size)[::-1].copy()  # id 0 the most frequent
    table = static_table(encoder, Pooling("mean", normalize=False), tokenizer, counts, dim, "tiny")
    assert table.shape == (vocab_size, dim) and table.dtype == np.float32
    assert np.linalg.norm(table, axis=1).mean() == pytest.approx(random_start_norm(dim), rel=1e-5)
    # each row is its piece's pooled vector, alone between [CLS] and [SEP], projected, then weighted
    inputs = token_inputs(tokenizer, vocab_size)
    assert inputs[5] == [tokenizer.cls_token_id, 5, tokenizer.sep_token_id]
    with torch.inference_mode():
        pooled = torch.cat([encoder(input_ids=torch.tensor([ids])).last_hidden_state.mean(dim=1) for ids in inputs])
    unweighted = principal_components(pooled.numpy(), dim)
    ratio = np.linalg.norm(table, axis=1) / np.linalg.norm(unweighted, axis=1)
    np.testing.assert_allclose(ratio / ratio[0], zipf_weights(counts) / zipf_weights(counts)[0], rtol=1e-3)
    again = static_table(encoder, Pooling("mean", normalize=False), tokenizer, counts, dim, "tiny")
    np.testing.assert_array_equal(again, table)
    with pytest.raises(DistilleryError, match=r"'bag.dim' \(64\) is wider than the vectors of 'tiny' \(32\)"):
        static_table(encoder, Pooling("mean", normalize=False), tokenizer, counts, 64, "tiny")


def test_static_vectors_start_the_bag_pair_and_lr_leaves_them(reproduced_copy: Path) -> None:
    project = reproduced_copy
    info = json.loads((project / "data/bag/vectors/info.json").read_text())
    assert info == {"dim": 16, "vectors": "random"} and not (project / "data/bag/vectors/table.safetensors").exists()
    update_params(project, {"bag": {"model": {"tokenizer": "teacher", "vectors": "static"}}})
    ran = ran_stages(run(["dvc", "repro"], project).stdout)
    # tokenize_student@bag reads bag.model as a whole: it re-runs, and writes the same ids
    assert set(ran) == {"tokenize_student@bag", "bag_vectors", "distil_bag", "twin_bag", "compare", "export@bag"}
    vocab_size = json.loads((project / "data/tokenized/vocab.json").read_text())["vocab_size"]  # the teacher's ids
    table = load_file(project / "data/bag/vectors/table.safetensors")["table"]
    assert table.shape == (vocab_size, 16) and table.dtype == np.float32
    assert json.loads((project / "data/bag/vectors/info.json").read_text())["source"] == "teacher"
    assert "static vectors from the teacher (Model2Vec)" in (project / "data/compare/report.md").read_text()
    lock = (project / "dvc.lock").read_text()
    run(["dvc", "repro", "-f", "bag_vectors"], project)  # the same params: the same bytes
    assert (project / "dvc.lock").read_text() == lock
    ran = ran_stages(run(["dvc", "exp", "run", "-S", "lr=0.5"], project).stdout)
    assert "bag_vectors" not in ran and {"distil_bag", "twin_bag"} <= set(ran)


def test_unknown_vectors_and_a_bag_wider_than_its_model_fail_cleanly(reproduced_copy: Path) -> None:
    project = reproduced_copy
    update_params(project, {"bag": {"model": {"tokenizer": "teacher", "vectors": "glove"}}})
    fails_cleanly(project, "bag_vectors.py", "'bag.model.vectors' must be one of ['random', 'static']")
    update_params(project, {"bag": {"model": {"tokenizer": "teacher", "vectors": "static"}, "dim": 64}})
    fails_cleanly(project, "bag_vectors.py", "'bag.dim' (64) is wider than the vectors of 'teacher' (32)")
