"""Benchmark: prepare and tokenize on a million-row review dump, with memory that does not grow with it.

Generates TSV.gz files in the Amazon customer-reviews schema (15 columns; random words, so nearly every
text is distinct) of 100,000 and 1,000,000 rows, runs `prepare` and `tokenize_texts` on each in a copy of this
project (headline + body as the text, star_rating as the label, data.max_examples 20,000: the kept
examples are the same size for both), and prints each stage's peak RSS and wall time, and the ratio of
peak RSS at 1M rows to 100k. For contrast, the peak RSS of pandas reading the whole file at once, as
prepare did before it streamed.

    python benchmarks/prepare_memory.py [--rows 100000 1000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import gzip
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from distillery.project import ENV, copy_project

COLUMNS = [
    "marketplace",
    "customer_id",
    "review_id",
    "product_id",
    "product_parent",
    "product_title",
    "product_category",
    "star_rating",
    "helpful_votes",
    "total_votes",
    "vine",
    "verified_purchase",
    "review_headline",
    "review_body",
    "review_date",
]
KEPT_EXAMPLES = 20_000

# Runs a command and prints the peak resident memory (KiB on Linux) of it and its children.
PEAK_RSS = (
    "import resource, subprocess, sys;"
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode;"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)"
)
READ_WHOLE = "import csv, sys, pandas; pandas.read_csv(sys.argv[1], sep='\\t', dtype=str, quoting=csv.QUOTE_NONE)"


def write_reviews(path: Path, rows: int, seed: int = 0, block: int = 50_000) -> None:
    """`rows` reviews, written a block at a time (the generator's memory stays flat too)."""
    rng = np.random.default_rng(seed)
    vocabulary = np.array([f"w{i}" for i in range(20_000)])
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as file:
        file.write("\t".join(COLUMNS) + "\n")
        for start in range(0, rows, block):
            n = min(block, rows - start)
            stars = rng.integers(1, 6, n)
            words = vocabulary[rng.integers(0, len(vocabulary), (n, 60))]
            body_lengths = rng.integers(10, 60, n)
            for i in range(n):
                row = start + i
                body = " ".join(words[i, : body_lengths[i]])
                fields = ["US", str(10_000_000 + row), f"R{row:013d}", f"B{row % 50_000:09d}", str(row % 99_991)]
                fields += [f"product {row % 50_000}", "Books", str(stars[i]), "0", "0", "N", "Y"]
                fields += [" ".join(words[i, 55:60]), body, "2015-08-31"]
                file.write("\t".join(fields) + "\n")


def peak_rss_mib(cmd: list[str], cwd: Path) -> tuple[float, float]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PEAK_RSS, *cmd], cwd=cwd, env=ENV, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    return int(done.stdout.split()[-1]) / 1024, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--keep", type=Path, help="build the projects here and keep them")
    args = parser.parse_args()
    workdir = (args.keep or Path(tempfile.mkdtemp(prefix="distillery-memory-"))).resolve()

    results = {}
    for rows in args.rows:

        def add_reviews(project: Path, rows: int = rows) -> None:
            print(f"writing {rows:,} reviews", flush=True)
            write_reviews(project / "data/raw/reviews.tsv.gz", rows)
            params = yaml.safe_load((project / "params.yaml").read_text())
            params["data"] |= {
                "source": "data/raw/reviews.tsv.gz",
                "text_column": ["review_headline", "review_body"],
                "label_column": "star_rating",
                "max_examples": KEPT_EXAMPLES,
            }
            (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

        project = copy_project(workdir / f"rows_{rows}", add_reviews)
        source = str(project / "data/raw/reviews.tsv.gz")
        results[rows] = {
            "prepare": peak_rss_mib(["python", "stages/prepare.py"], project),
            "tokenize": peak_rss_mib(["python", "stages/tokenize_texts.py"], project),
            "pandas, whole file at once": peak_rss_mib(["python", "-c", READ_WHOLE, source], project),
        }
        print(f"{rows:,} rows: {results[rows]}", flush=True)

    print(f"\n| step | {' | '.join(f'{rows:,} rows: peak RSS MiB (s)' for rows in results)} | ratio |")
    print("|---|" + "---|" * (len(results) + 1))
    first, last = results[min(results)], results[max(results)]
    for step in first:
        cells = [f"{measured[step][0]:.0f} ({measured[step][1]:.0f} s)" for measured in results.values()]
        print(f"| {step} | {' | '.join(cells)} | {last[step][0] / first[step][0]:.2f} |")
    print(f"\n(kept examples: {KEPT_EXAMPLES:,}; projects in {workdir})")


if __name__ == "__main__":
    main()
