"""SetFit, the few-label baseline: which body it takes, and the tune_setfit stage end to end on a tiny random BERT."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from conftest import ran_stages, run, update_params
from distillery.baselines.setfit_model import setfit_body


def test_the_body_is_the_named_model_or_the_teacher_itself() -> None:
    params = {"teacher": {"model": "bundled:all-mpnet-base-v2"}, "baselines": {"setfit_body": "./models/small"}}
    assert setfit_body(params) == "./models/small"
    params["baselines"]["setfit_body"] = "teacher"
    assert setfit_body(params) == "bundled:all-mpnet-base-v2"


def test_setfit_runs_on_few_labels_beside_the_students(reproduced_copy: Path) -> None:
    project = reproduced_copy
    skipped = json.loads((project / "data/setfit/metrics.json").read_text())
    assert skipped == {"skipped": skipped["skipped"], "labelled_examples": 172}  # setfit_max_labels null: never
    assert skipped["skipped"] == "baselines.setfit_max_labels is null"

    update_params(project, {"baselines": {"setfit_max_labels": 500}})
    output = run(["dvc", "repro"], project).stdout
    assert sorted(ran_stages(output)) == ["compare", "tune_setfit"]
    setfit = json.loads((project / "data/setfit/metrics.json").read_text())
    assert [(t["max_steps"], t["body_learning_rate"]) for t in setfit["trials"]] == [(2, 1e-3), (4, 1e-3)]
    assert setfit["chosen"] in [{k: t[k] for k in setfit["chosen"]} for t in setfit["trials"]]
    assert setfit["body"] == "./models/tiny-bert" and setfit["labelled_examples"] == 172
    assert 0 <= setfit["accuracy"] <= 1 and setfit["latency_ms"] > 0 and setfit["params"] > 0
    test = pq.read_table(project / "data/prepared/test.parquet")
    predictions = pq.read_table(project / "data/setfit/test_predictions.parquet")
    assert predictions["id"].to_pylist() == test["id"].to_pylist()
    assert set(predictions["prediction"].to_pylist()) <= {0, 1}

    metrics = json.loads((project / "data/compare/metrics.json").read_text())
    assert metrics["setfit"]["accuracy"] == setfit["accuracy"] and metrics["data"]["setfit_skipped"] is None
    for arch in ("bag", "transformer", "bilstm"):
        versus = metrics[f"{arch}_student_vs_setfit"]
        assert set(versus["mcnemar_p_per_seed"]) == set(metrics[f"{arch}_student"]["accuracy_per_seed"])
    assert metrics["data"]["labels_seen"] == {"train": 172, "dev": metrics["data"]["dev"]}
    report = (project / "data/compare/report.md").read_text()
    assert "| SetFit (sentence transformer + logistic regression), tuned on dev |" in report
    assert "- SetFit (./models/tiny-bert): " in report and "Against SetFit (" in report
    summary = json.loads((project / "data/compare/summary.json").read_text())
    assert summary["setfit"] == setfit["accuracy"]

    # Its grid is its own: an experiment on it re-runs SetFit and the report, nothing else.
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-q", "-m", "setfit on"], project)
    output = run(["dvc", "exp", "run", "-S", "baselines.setfit_grid.max_steps=[1,3]"], project).stdout
    assert sorted(ran_stages(output)) == ["compare", "tune_setfit"]
