"""Fault check on a real project: SIGKILL each stage at a random moment, then `dvc repro`.

For every stage (default: all but train_teacher, whose resume tests/test_faults.py covers): run it
once uninterrupted (`dvc repro --force --single-item`) to time it and to check that a re-run gives
the same outputs, then again, SIGKILLed (DVC and the stage) after a uniform random part of that time,
then a plain `dvc repro`. Reports, per stage, whether the outputs equal the uninterrupted run's (timing
fields aside), whether any scratch folder or checkpoint was left in the project, and `dvc status`.

    python benchmarks/kill_matrix.py PROJECT_DIR [--stages prepare tokenize_texts ...] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import yaml

from distillery.project import ENV, stage_outputs


def dvc(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["dvc", *args], cwd=project, env=ENV, capture_output=True, text=True)


def leftovers(project: Path) -> list[str]:
    hidden = [path for path in (project / "data").rglob(".*") if path.is_dir()]
    return [str(path.relative_to(project)) for path in hidden + list(project.glob(".checkpoints"))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("project", type=Path)
    parser.add_argument("--stages", nargs="*")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    project = args.project.resolve()
    stages = args.stages or [
        s for s in yaml.safe_load((project / "dvc.yaml").read_text())["stages"] if s != "train_teacher"
    ]
    rng = random.Random(args.seed)
    print(
        f"{'stage':<18} {'run s':>7} {'killed at s':>11}  {'re-run same':<11} {'after kill same':<15} left  dvc status"
    )
    for stage in stages:
        reference = stage_outputs(project, stage)
        start = time.perf_counter()
        if dvc(project, "repro", "--force", "--single-item", stage).returncode != 0:
            raise SystemExit(f"{stage} failed uninterrupted")
        duration = time.perf_counter() - start
        rerun_same = stage_outputs(project, stage) == reference
        delay = rng.uniform(0.05, 0.8) * duration  # the killed run is often quicker (warm caches)
        process = subprocess.Popen(
            ["dvc", "repro", "--force", "--single-item", stage],
            cwd=project, env=ENV, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            process.wait(timeout=delay)
            killed = False
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            killed = True
        repro = dvc(project, "repro")
        if repro.returncode != 0:
            raise SystemExit(f"dvc repro failed after killing {stage}:\n{repro.stdout}\n{repro.stderr}")
        same = stage_outputs(project, stage) == reference
        changed = json.loads(dvc(project, "status", "--json").stdout)
        status = "clean" if set(changed) <= {"teacher_source"} else f"CHANGED {sorted(changed)}"  # always_changed
        left = leftovers(project)
        moment = f"{delay:.1f}" if killed else "(finished)"
        print(f"{stage:<18} {duration:>7.1f} {moment:>11}  {rerun_same!s:<11} {same!s:<15} {len(left):<5} {status}")


if __name__ == "__main__":
    main()
