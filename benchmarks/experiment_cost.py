"""Benchmark: what a student-side experiment costs next to the full pipeline, measured in one run.

Copies this project into a fresh git + DVC repo (empty cache), times `dvc repro` stage by stage,
then times `dvc exp run -S lr=0.4` in the same repo, and prints the ratio. The goal is that the
experiment costs <= 5% of the full repro, because the teacher stages are reused, not re-run.

    python benchmarks/experiment_cost.py            # the default pipeline (takes minutes)
    python benchmarks/experiment_cost.py --keep DIR # keep the repo for inspection
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from distillery.project import copy_project, timed_stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", type=Path, help="build the repo here and keep it")
    args = parser.parse_args()
    workdir = copy_project(args.keep or Path(tempfile.mkdtemp(prefix="distillery-bench-")))

    repro_total, repro_stages = timed_stages(["dvc", "repro"], workdir)
    exp_total, exp_stages = timed_stages(["dvc", "exp", "run", "-S", "lr=0.4"], workdir)

    print("\n| stage | full `dvc repro` (s) | `dvc exp run -S lr=0.4` (s) |\n|---|---|---|")
    for stage, seconds in repro_stages.items():
        again = exp_stages.get(stage)
        print(f"| {stage} | {seconds:.1f} | {'not run' if again is None else f'{again:.1f}'} |")
    print(f"| **total** | **{repro_total:.1f}** | **{exp_total:.1f}** |")
    print(
        f"\nexperiment / full repro = {exp_total / repro_total:.3f} ({100 * exp_total / repro_total:.1f}%; goal <= 5%)"
    )
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
