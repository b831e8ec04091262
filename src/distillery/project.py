"""A copy of this pipeline in a fresh git + DVC repo (empty cache), timing dvc in it, and comparing stage outputs
across runs: for the benchmarks and the tests, never imported by a stage. Needs the editable install (make)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
# The venv's dvc and python, whichever way the benchmark was started.
ENV = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
PROJECT_FILES = ["stages", "src", "dvc.yaml", "params.yaml", ".dvcignore", ".gitignore"]
PROJECT_FILES += ["data/raw/README.md", "data/unlabelled/README.md"]


def copy_project(directory: Path, prepare: Callable[[Path], None] | None = None, source: Path | None = None) -> Path:
    """Copy this repo's pipeline into `directory`, let `prepare` add data or change params, commit it all.

    With `source`, a project that has run: its dvc.lock and data/raw come along too, so that
    `dvc checkout` against that project's cache restores its outputs.
    """
    names = PROJECT_FILES if source is None else [*PROJECT_FILES, "dvc.lock", "data/raw"]
    source = source or ROOT
    for name in names:
        source_file, target = source / name, directory / name
        if not source_file.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if source_file.is_dir():
            shutil.copytree(source_file, target, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
        else:
            shutil.copy(source_file, target)
    if prepare:
        prepare(directory)
    for cmd in (
        ["git", "init", "-q"],
        ["dvc", "init", "-q"],
        ["git", "add", "-A"],
        ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-qm", "bench"],
    ):
        subprocess.run(cmd, cwd=directory, check=True, env=ENV)
    return directory


def timed_stages(cmd: list[str], cwd: Path) -> tuple[float, dict[str, float]]:
    """Run a dvc command, echoing its output; wall time in all and per stage that ran. The copy's stages import
    its own src/ (the editable install would give them this checkout's, which may change while they run)."""
    env = dict(ENV, PYTHONUNBUFFERED="1", PYTHONPATH=str(Path(cwd).resolve() / "src"))
    start = time.perf_counter()
    stages: dict[str, float] = {}
    current, current_start = None, start
    process = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:
        sys.stdout.write(line)
        match = re.search(r"Running stage '([\w@.-]+)'", line)
        if match:
            now = time.perf_counter()
            if current:
                stages[current] = now - current_start
            current, current_start = match.group(1), now
    if process.wait() != 0:
        sys.exit(f"{' '.join(cmd)} failed")
    total = time.perf_counter() - start
    if current:
        stages[current] = start + total - current_start
    return total, stages


# Comparing a stage's outputs across runs (here and in tests/test_faults.py): these hold timings, which
# no two runs share; compare's report and plot and the model card print them, so those files are skipped.
TIMING_KEYS = ("train_seconds", "examples_per_s", "latency_ms")
TIMED_FILES = {
    "data/compare/report.md",
    "data/compare/learning_curves.png",
    "data/compare/leaderboard.csv",  # latencies
    "data/compare/pareto.png",
    "data/export/bag/README.md",
    "data/export/bilstm/README.md",
    "data/export/transformer/README.md",
}


def _without_timings(node: object) -> object:
    if isinstance(node, dict):
        return {key: _without_timings(value) for key, value in node.items() if key not in TIMING_KEYS}
    if isinstance(node, list):
        return [_without_timings(value) for value in node]
    return node


def stage_outputs(project: Path, stage: str) -> dict[str, object]:
    """Every file a stage writes (per dvc.yaml), as bytes, or as JSON with the timing fields dropped."""
    definition = yaml.safe_load((project / "dvc.yaml").read_text())["stages"][stage]
    declared = definition.get("outs", []) + definition.get("metrics", [])
    contents: dict[str, object] = {}
    for out in declared:
        path = project / out
        for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
            name = file.relative_to(project).as_posix()
            if not file.is_file() or name in TIMED_FILES:
                continue
            data = file.read_bytes()
            contents[name] = _without_timings(json.loads(data)) if file.suffix == ".json" else data
    if not contents:
        raise FileNotFoundError(f"{stage} has no outputs in {project}")
    return contents
