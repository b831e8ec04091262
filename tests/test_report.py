"""compare's statistics and rendering."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from distillery.evaluation.leaderboard import rounded
from distillery.evaluation.statistics import mcnemar_p, paired_bootstrap_ci
from distillery.evaluation.timing import examples_per_second
from distillery.report.plots import plot_learning_curves
from distillery.report.render import markdown_table, p_value, serving_section, teacher_note
from distillery.report.serving import budget_ceiling, serving_choices


def test_mcnemar_exact_for_few_discordant_pairs() -> None:
    truth = np.zeros(20, dtype=int)
    first = np.zeros(20, dtype=int)
    second = np.zeros(20, dtype=int)
    second[:6] = 1  # second wrong on 6, first wrong on none: exact two-sided p = 2 * 0.5^6
    assert mcnemar_p(truth, first, second) == pytest.approx(2 * 0.5**6)


def test_mcnemar_chi_square_for_many_discordant_pairs() -> None:
    truth = np.zeros(200, dtype=int)
    first = np.zeros(200, dtype=int)
    second = np.zeros(200, dtype=int)
    second[:30] = 1
    first[30:40] = 1  # b = 30, c = 10: chi2 = (|30 - 10| - 1)^2 / 40 = 9.025
    from scipy.stats import chi2

    assert mcnemar_p(truth, first, second) == pytest.approx(chi2.sf(9.025, 1))


def test_mcnemar_identical_predictions() -> None:
    truth = np.array([0, 1, 1])
    assert mcnemar_p(truth, truth, truth) == 1.0


def test_examples_per_second_counts_calls() -> None:
    calls = []
    rate = examples_per_second(lambda: calls.append(1), num_examples=10, min_seconds=0.01)
    assert rate > 0 and len(calls) >= 2


def test_markdown_table() -> None:
    assert markdown_table(["a", "b"], [["1", "2"]]).splitlines() == ["| a | b |", "|---|---|", "| 1 | 2 |"]


def test_learning_curve_png_is_byte_stable(tmp_path: Path) -> None:
    history = pd.DataFrame({"epoch": [1, 2], "dev_acc": [0.6, 0.7], "test_acc": [0.5, 0.7]})
    plot_learning_curves({"student": history}, 0.9, tmp_path / "a.png")
    plot_learning_curves({"student": history}, 0.9, tmp_path / "b.png")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_bootstrap_interval_of_identical_and_opposite_predictions() -> None:
    truth = np.array([0, 1] * 50)
    assert paired_bootstrap_ci(truth, [truth], [truth]) == (0.0, 0.0)
    assert paired_bootstrap_ci(truth, [truth], [1 - truth]) == (1.0, 1.0)


def test_bootstrap_interval_matches_the_normal_approximation() -> None:
    # The student is right and the twin wrong on half the examples, equal on the rest: mean delta 0.5,
    # standard error sqrt(0.25 / n), so the 95% interval is 0.5 +- 1.96 * 0.0158 for n = 1000.
    truth = np.zeros(1000, dtype=int)
    student, twin = np.zeros(1000, dtype=int), np.zeros(1000, dtype=int)
    twin[::2] = 1
    low, high = paired_bootstrap_ci(truth, [student], [twin])
    half_width = 1.96 * np.sqrt(0.25 / 1000)
    assert low == pytest.approx(0.5 - half_width, abs=0.004) and high == pytest.approx(0.5 + half_width, abs=0.004)


def test_bootstrap_pools_seeds_per_example() -> None:
    truth = np.zeros(400, dtype=int)
    right, wrong = np.zeros(400, dtype=int), np.ones(400, dtype=int)
    # One seed gains everywhere, the other loses everywhere: the pooled delta is exactly 0.
    assert paired_bootstrap_ci(truth, [right, wrong], [wrong, right]) == (0.0, 0.0)


def test_small_p_values_keep_their_digits() -> None:
    assert p_value(4e-7) == "4.00e-07" and p_value(0.0312) == "0.031"
    assert rounded({"p": [4.123456789e-7, 0.5]}) == {"p": [4.12346e-7, 0.5]}


def test_latency_budgets_round_up_to_the_1_2_5_series() -> None:
    assert [budget_ceiling(ms) for ms in (0.37, 1.0, 1.01, 3.3, 7.0, 20.0, 20.5)] == pytest.approx(
        [0.5, 1, 2, 5, 10, 20, 50]
    )


def export_row(latency_ms: float, dev: float, test: float) -> dict:
    return {"latency_ms": latency_ms, "dev_score": dev, "accuracy": test, "dev_metric": "accuracy"} | {
        "model_file": "model.int8.onnx",
        "disk_mb": 1.0,
    }


def test_the_export_to_serve_is_the_best_on_dev_within_each_budget_never_the_best_on_test() -> None:
    exports = {
        "bag_export": export_row(0.3, dev=0.78, test=0.70),
        "bilstm_export": export_row(1.4, dev=0.77, test=0.99),  # best on test, never chosen: worse on dev than the bag
        "transformer_export": export_row(3.3, dev=0.81, test=0.80),
    }
    assert serving_choices(exports) == [(0.5, "bag_export"), (5, "transformer_export")]
    section = "\n".join(serving_section(exports))
    assert "| 0.5 | `data/export/bag` (model.int8.onnx) | 0.7800 | 0.7000 |" in section
    assert "| 5 | `data/export/transformer`" in section and "bilstm" not in section


def test_no_export_no_serving_section() -> None:
    assert serving_section({"teacher": {}}) == []


def test_the_teacher_note_says_how_it_was_made_and_what_each_method_scored_on_dev() -> None:
    params = {"teacher": {"epochs": 10, "patience": 1}}
    probe = {
        "method": "probe",
        "pooling": {"mode": "mean", "normalize": True},
        "C": 10.0,
        "dev_per_C": {"1.0": {"accuracy": 0.8, "loss": 0.5}, "10.0": {"accuracy": 0.85, "loss": 0.4}},
        "dev_per_method": {"finetune": {"accuracy": 0.83, "loss": 0.45}, "probe": {"accuracy": 0.85, "loss": 0.4}},
    }
    note = teacher_note(probe, params)
    assert "a probe, the encoder frozen (mean pooling, normalised)" in note and "C 10.0" in note
    assert "dev accuracy per C of `teacher.probe_c`: 1.0 0.8000, 10.0 0.8500" in note
    assert "dev accuracy chose it among `teacher.method`: finetune 0.8300, probe 0.8500" in note
    multi = probe | {"multi_label": {}}
    assert "dev loss chose it among `teacher.method`: finetune 0.4500, probe 0.4000" in teacher_note(multi, params)
    fine_tuned = {"method": "finetune", "epochs_trained": 4, "best_epoch": 3, "dev_per_method": {"finetune": {}}}
    assert (
        teacher_note(fine_tuned, params)
        == "- Teacher: fine-tuned 4 epochs, kept epoch 3 (best dev; at most 10 epochs, patience 1)."
    )
