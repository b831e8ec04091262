"""The report's judgement from a stored metrics.json (a tiny pipeline run's): every branch of the verdict
and the warnings, and the whole report rendered, without running a stage."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from distillery.evaluation.statistics import dev_noise
from distillery.report.render import render_report
from distillery.report.verdict import likely_causes, verdict, warnings

FIXTURES = Path(__file__).parent / "fixtures"
STORED = json.loads((FIXTURES / "metrics.json").read_text())
PARAMS = yaml.safe_load((FIXTURES / "params.yaml").read_text())


@pytest.fixture
def results() -> dict:
    return copy.deepcopy(STORED)


def with_pair(results: dict, delta: float, p_values: list[float], interval: tuple[float, float]) -> dict:
    results["bag_student_vs_twin"] |= {
        "delta": delta,
        "mcnemar_p_per_seed": {str(7 + i): p for i, p in enumerate(p_values)},
        "delta_ci95": list(interval),
    }
    return results


def test_every_seed_and_the_interval_agree_so_distillation_helped(results: dict) -> None:
    text = verdict(with_pair(results, 0.04, [0.001, 0.01], (0.02, 0.06)))
    assert text.startswith("Distillation helped: the bag student beats its twin by 4.0 points")
    assert "Likely causes" not in text and "None of the usual causes" not in text


def test_mcnemar_without_the_interval_is_partial_evidence(results: dict) -> None:
    text = verdict(with_pair(results, 0.02, [0.01, 0.02], (-0.01, 0.05)))
    assert "McNemar on every seed says the difference is real but the bootstrap interval does not" in text


def test_the_interval_without_every_seed_is_partial_evidence(results: dict) -> None:
    text = verdict(with_pair(results, 0.02, [0.01, 0.2], (0.001, 0.05)))
    assert "the bootstrap interval says the difference is real but McNemar on every seed does not" in text


def test_a_gain_that_neither_test_shows_is_not_established(results: dict) -> None:
    text = verdict(with_pair(results, 0.02, [0.3, 0.4], (-0.02, 0.06)))
    assert "this run does not establish that the teacher helped" in text


def test_no_gain_says_so_and_names_the_likely_causes(results: dict) -> None:
    results = with_pair(results, -0.01, [0.5, 0.6], (-0.04, 0.02))
    results["teacher"]["dev_accuracy"] = results["bag_twin"]["dev_accuracy"] + 0.01  # a weak teacher
    text = verdict(results)
    assert "The bag student is not better than its twin (-1.0 points)" in text
    assert "the teacher is weak" in text and "few examples per class" in text


def test_likely_causes_underfitting(results: dict) -> None:
    results["teacher"]["dev_accuracy"] = results["bag_twin"]["dev_accuracy"] + 0.1
    results["bag_student"]["train_accuracy"] = results["teacher"]["dev_accuracy"] - 0.2
    results["data"]["train"] = 100_000
    assert likely_causes(results).startswith("Likely causes: the students underfit")


def test_a_baseline_above_the_teacher_is_called_out(results: dict) -> None:
    results["sklearn"]["accuracy"] = results["teacher"]["accuracy"] + 0.01
    results["sklearn"]["dev_accuracy"] = 2.0  # the best baseline on dev
    assert "It even beats the teacher" in verdict(results)


def test_no_warning_when_the_teacher_beats_the_baselines_on_dev(results: dict) -> None:
    results["teacher"]["dev_accuracy"] = 1.0
    for name in ("fasttext_tuned", "sklearn"):
        results[name]["dev_accuracy"] = 0.9
    assert warnings(results, PARAMS) == []


def test_a_teacher_below_a_baseline_on_dev_is_warned_about_with_advice(results: dict) -> None:
    results["teacher"] |= {"dev_accuracy": 0.6, "epochs_trained": 4, "best_epoch": 4}
    results["data"]["tokens"]["train"]["truncated_for_teacher"] = 12
    (warning,) = warnings(results, PARAMS)
    assert "The teacher's dev accuracy (0.6000) is below that of" in warning
    assert "raise teacher.epochs" in warning
    assert "12 of 172 training texts are longer than teacher.max_length (32)" in warning


def test_the_report_renders_every_section_from_metrics_json() -> None:
    report = render_report(STORED, PARAMS, ["neg", "pos"])
    for heading in ("# distillery report", "## Each student against its twin", "## Chosen on dev", "## Verdict"):
        assert heading in report
    assert "Test set: 48 examples, 2 classes (neg, pos)" in report
    for title in ("transformer student (distilled)", "BiLSTM twin (hard labels only)", "bag student (distilled)"):
        assert f"| {title} |" in report
    assert "autodidact" not in report


def test_a_weak_teachers_warning_comes_before_any_table(results: dict) -> None:
    results["teacher"] |= {"dev_accuracy": 0.5, "epochs_trained": 1, "best_epoch": 1}
    report = render_report(results, PARAMS, ["neg", "pos"])
    warning = report.index("> **Warning.** The teacher's dev accuracy (0.5000)")
    assert warning < report.index("| model |") and "raise teacher.epochs" in report


def test_the_best_student_on_dev_is_placed_against_setfit_by_both_paired_tests(results: dict) -> None:
    results["setfit"] = {"accuracy": 0.8, "params": 22_700_000, "latency_ms": 12.0}
    results["bag_student"]["latency_ms"] = 0.1
    for arch in ("bag", "transformer", "bilstm"):  # the bag is best on dev: 1.0 against the others below
        results[f"{arch}_student"]["dev_accuracy"] = 1.0 if arch == "bag" else 0.5
        results[f"{arch}_student_vs_setfit"] = {"delta": 0.05, "mcnemar_p": 0.001, "delta_ci95": [0.02, 0.08]}
    assert "the bag (0.9688), is above it (+5.0 points" in verdict(
        results
    ) and "at 120.0x its single-text speed" in verdict(results)
    results["bag_student_vs_setfit"] |= {"delta_ci95": [-0.01, 0.08]}  # McNemar alone: level
    assert "is level with it" in verdict(results)
    results["bag_student_vs_setfit"] = {"delta": -0.05, "mcnemar_p": 0.01, "delta_ci95": [-0.08, -0.02]}
    assert "is below it (-5.0 points" in verdict(results)
    del results["setfit"]
    assert "SetFit" not in verdict(results)


def test_choices_within_devs_noise_are_marked_and_a_small_dev_is_explained(results: dict) -> None:
    assert dev_noise(1020, 0.8) == pytest.approx(0.0347, abs=1e-4) and dev_noise(56, 0.8) > 0.14
    report = render_report(results, PARAMS, ["neg", "pos"])
    assert "Dev has 20 labelled texts (one text is 5 points)" in report
    assert "the export gate's McNemar test can reject only large differences" in report
    assert "dev cannot tell them apart)" in report  # the tiny run's baselines tie on 20 dev texts
    assert "- SetFit did not run: baselines.setfit_max_labels is null." in report
    assert "Labels: every model learned from 172 labelled training texts and made every choice on 20" in report
    results["data"]["dev"] = 100_000
    assert "Dev has 100,000 labelled texts" in (big := render_report(results, PARAMS, ["neg", "pos"]))
    assert "can reject only large differences" not in big


def test_a_strong_pair_is_no_success_when_the_teacher_was_below_a_baseline_on_dev(results: dict) -> None:
    results = with_pair(results, 0.04, [0.001, 0.01], (0.02, 0.06))
    results["teacher"]["dev_accuracy"] = 0.6
    results["sklearn"]["dev_accuracy"] = 0.9
    text = verdict(results)
    assert "Distillation helped" not in text
    assert "beats its twin by 4.0 points" in text and "that is no success for distillation" in text


def test_multi_label_compares_teacher_and_baselines_by_dev_bce(results: dict) -> None:
    results["teacher"] |= {"multi_label": {}, "dev_bce": 0.335, "dev_accuracy": 0.9, "epochs_trained": 3}
    results["teacher"]["best_epoch"] = 3
    results["sklearn"] |= {"dev_bce": 0.28, "dev_accuracy": 0.1}  # exact match would hide it
    results["fasttext_tuned"] |= {"dev_bce": 0.40, "dev_accuracy": 0.5}
    (warning,) = warnings(results, PARAMS)
    assert warning.startswith("The teacher's dev BCE (0.3350) is worse than that of scikit-learn")
    assert "(BCE (0.2800))" not in warning and "(0.2800)" in warning and "raise teacher.epochs" in warning
    results["teacher"]["dev_bce"] = 0.2
    assert warnings(results, PARAMS) == []


def test_models_still_improving_at_their_epoch_budget_are_marked(results: dict) -> None:
    results["teacher"] |= {"epochs_trained": 4, "best_epoch": 4}
    for name in ("bag_student", "bilstm_twin"):
        results[name]["best_epoch_per_seed"] = dict(results[name]["epochs_trained_per_seed"])
    report = render_report(results, PARAMS, ["neg", "pos"])
    for title in ("teacher", "bag student (distilled)", "BiLSTM twin (hard labels only)"):
        assert f"| {title} † |" in report
    assert "| bag twin (hard labels only) |" in report  # it stopped on dev: seed 7 kept epoch 1 of 3
    note = next(line for line in report.splitlines() if line.startswith("† Still improving"))
    assert "teacher (epoch 4 of 4); transformer twin (hard labels only) (seed 8: epoch 2 of 2)" in note
    assert "bag student (distilled) (seed 7: epoch 3 of 3, seed 8: epoch 3 of 3)" in note
    assert note.endswith("raise `teacher.epochs`, `transformer.epochs`, `bilstm.epochs`, `bag.epochs`.")

    results["teacher"]["best_epoch"] = 3
    for row in results.values():
        if "best_epoch_per_seed" in row:
            row["best_epoch_per_seed"] = {seed: 1 for seed in row["best_epoch_per_seed"]}
    report = render_report(results, PARAMS, ["neg", "pos"])
    assert " † |" not in report and "Still improving" not in report


def test_a_multi_label_bag_is_judged_on_macro_f1_by_its_bootstrap_interval(results: dict) -> None:
    results["teacher"] |= {"multi_label": {}, "dev_bce": 0.2}
    results["sklearn"] |= {"dev_bce": 0.3}
    results["fasttext_tuned"] |= {"dev_bce": 0.4}
    results = with_pair(results, 0.021, [0.01, 0.006], (0.007, 0.034))  # exact match: up, on every seed
    results["bag_student_vs_twin"] |= {"macro_f1_delta": -0.113, "macro_f1_delta_ci95": [-0.128, -0.097]}
    text = verdict(results)
    assert text.startswith("The bag student's macro-F1 is not above its twin's (-11.3 points, interval [-12.8, -9.7])")
    assert "Likely causes" in text and "McNemar" not in text.split("Likely causes")[0]
    results["bag_student_vs_twin"] |= {"macro_f1_delta": 0.05, "macro_f1_delta_ci95": [0.02, 0.08]}
    assert verdict(results).startswith("Distillation helped: the bag student's macro-F1 is 5.0 points above")
    results["teacher"]["dev_bce"] = 0.35  # now scikit-learn beat it on dev
    assert "that is no success for distillation" in verdict(results)
    results["bag_student_vs_twin"] |= {"macro_f1_delta_ci95": [-0.01, 0.08]}
    assert "does not establish that the teacher helped" in verdict(results)
