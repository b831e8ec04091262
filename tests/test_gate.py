"""The compression gate: a compressed model replaces fp32 only when dev cannot tell them apart."""

from __future__ import annotations

import numpy as np

from distillery.export.gate import gate


def dev_set(rows: int = 1000, right: float = 0.85, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, rows)
    fp32 = np.where(rng.random(rows) < right, truth, 1 - truth)
    return truth, fp32


def test_a_faithful_compression_ships() -> None:
    truth, fp32 = dev_set()
    compressed = fp32.copy()
    compressed[:6] = 1 - compressed[:6]  # a handful of flips either way
    verdict = gate(truth, fp32, compressed, multi_label=False, what="int8")
    assert verdict.compressed_ships and verdict.metric == "accuracy"
    assert abs(verdict.fp32_dev - verdict.compressed_dev) <= 0.006 and verdict.mcnemar_p >= 0.05
    assert verdict.agreement == 0.994  # the share of dev texts where the two predict alike


def test_a_damaged_compression_is_refused_with_the_reason() -> None:
    truth, fp32 = dev_set()
    damaged = fp32.copy()
    wrong_now = np.flatnonzero(fp32 == truth)[:40]
    damaged[wrong_now] = 1 - damaged[wrong_now]  # 4 points worse
    verdict = gate(truth, fp32, damaged, multi_label=False, what="int8")
    assert not verdict.compressed_ships
    assert verdict.compressed_dev < verdict.fp32_dev - 0.03
    assert "int8 lost 4.00 points of dev accuracy" in verdict.reason


def test_a_small_but_one_sided_change_is_refused_by_mcnemar() -> None:
    truth, fp32 = dev_set(rows=20000)
    damaged = fp32.copy()
    wrong_now = np.flatnonzero(fp32 == truth)[:80]  # 0.4 points: under the drop allowed, but never the other way
    damaged[wrong_now] = 1 - damaged[wrong_now]
    verdict = gate(truth, fp32, damaged, multi_label=False, what="int8")
    assert not verdict.compressed_ships
    assert verdict.fp32_dev - verdict.compressed_dev < 0.005 and verdict.mcnemar_p < 0.05
    assert "McNemar" in verdict.reason


def test_multi_label_gates_on_macro_f1() -> None:
    rng = np.random.default_rng(1)
    truth = (rng.random((500, 4)) < 0.3).astype(np.int64)
    fp32 = np.where(rng.random((500, 4)) < 0.9, truth, 1 - truth)
    verdict = gate(truth, fp32, fp32.copy(), multi_label=True, what="int8")
    assert verdict.compressed_ships and verdict.metric == "macro_f1" and verdict.mcnemar_p == 1.0
    assert verdict.agreement == 1.0
    damaged = fp32.copy()
    damaged[:5, 1] = 1 - damaged[:5, 1]
    assert gate(truth, fp32, damaged, multi_label=True, what="int8").agreement == 0.99  # a text agrees on every label
    damaged[:, 0] = 0  # one label never predicted
    assert not gate(truth, fp32, damaged, multi_label=True, what="int8").compressed_ships
