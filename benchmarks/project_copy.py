"""A copy of this pipeline in a fresh git + DVC repo (empty cache), for the benchmarks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The venv's dvc and python, whichever way the benchmark was started.
ENV = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
PROJECT_FILES = ["stages", "dvc.yaml", "params.yaml", ".dvcignore", "data/raw/README.md"]


def copy_project(directory: Path, prepare: Callable[[Path], None] | None = None) -> Path:
    """Copy the pipeline into `directory`, let `prepare` add data or change params, commit it all."""
    for name in PROJECT_FILES:
        source, target = ROOT / name, directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, target)
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
