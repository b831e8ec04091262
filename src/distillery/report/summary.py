"""The leaderboard's flat forms: the points of the accuracy-latency plot, and the few numbers
`dvc exp show` prints as columns (summary.json)."""

from __future__ import annotations

import pandas as pd

from distillery.core.paths import ARCHITECTURES


def leaderboard(results: dict) -> pd.DataFrame:
    """Every model timed here: test accuracy against single-text latency (the Pareto plot's points)."""
    rows = [
        {"model": name, "latency_ms": row["latency_ms"], "accuracy": row["accuracy"], "params": row["params"]}
        for name, row in results.items()
        if isinstance(row, dict) and "latency_ms" in row
    ]
    return pd.DataFrame(rows)


# Multi-label: the models whose macro-F1 and BCE `dvc exp show` prints (as f1_<model> and bce_<model>).
MULTI_LABEL_HEADLINE = ("teacher", "fasttext_tuned", "sklearn")
MULTI_LABEL_HEADLINE += tuple(f"{arch}_{role}" for arch in ARCHITECTURES for role in ("student", "twin"))


def headline(results: dict) -> dict:
    """The few numbers `dvc exp show` prints as columns, with short flat names so that they fit: each model's
    test accuracy, each architecture's student and twin dev accuracies (what a sweep chooses by), the
    student's delta over its twin and the largest per-seed McNemar p; for multi-label data also macro-F1
    (f1_<model>) and BCE (bce_<model>)."""
    baselines = ("fasttext", "fasttext_tuned", "sklearn", "setfit")  # setfit: when it ran (few labels)
    flat = {name: results[name]["accuracy"] for name in ("teacher", *baselines) if name in results}
    for arch in ARCHITECTURES:
        pair = results[f"{arch}_student_vs_twin"]
        flat[arch] = results[f"{arch}_student"]["accuracy"]
        flat[f"{arch}_twin"] = results[f"{arch}_twin"]["accuracy"]
        flat[f"dev_{arch}"] = results[f"{arch}_student"]["dev_accuracy"]
        flat[f"dev_{arch}_twin"] = results[f"{arch}_twin"]["dev_accuracy"]
        flat[f"delta_{arch}"] = pair["delta"]
        flat[f"p_max_{arch}"] = pair["mcnemar_p"]
    if "multi_label" in results["teacher"]:
        for name in MULTI_LABEL_HEADLINE:
            flat[f"f1_{name}"] = results[name]["multi_label"]["macro_f1"]
            flat[f"bce_{name}"] = results[name]["multi_label"]["bce"]
    return flat
