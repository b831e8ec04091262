"""Where a long stage keeps its training checkpoints, so that a killed run resumes instead of starting over.

DVC 3 has no checkpoint outputs, so checkpoints live outside every stage's outputs, under
.checkpoints/<stage>-<key>/. The key hashes what the stage reads according to dvc.yaml (its params'
values and its dependencies' bytes), so a checkpoint left by other inputs or other code is never resumed.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Any

import yaml

from distillery.core.params import param

ROOT = Path(".checkpoints")


def _hash_path(digest: Any, path: Path, root: Path) -> None:
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        name = file.relative_to(root) if file.is_relative_to(root) else file  # a data file outside the project
        digest.update(name.as_posix().encode() + b"\0")
        with file.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)


def inputs_key(stage: str, params: dict[str, Any], root: Path = Path(".")) -> str:
    """A hash of `stage`'s params (values) and deps (contents), as the project's dvc.yaml declares them."""
    definition = yaml.safe_load((root / "dvc.yaml").read_text())["stages"][stage]
    digest = hashlib.sha256()
    values = {name: param(params, name) for name in definition.get("params", [])}
    digest.update(json.dumps(values, sort_keys=True, default=str).encode())
    for dep in definition.get("deps", []):
        # A templated dependency such as ${data.source} names the file that params.yaml points at.
        path = re.sub(r"\$\{([\w.]+)\}", lambda m: str(param(params, m.group(1))), dep)
        _hash_path(digest, root / path, root)
    return digest.hexdigest()[:16]


def checkpoint_dir(stage: str, params: dict[str, Any]) -> Path:
    return ROOT / f"{stage}-{inputs_key(stage, params)}"


def remove(directory: Path) -> None:
    """Delete a finished run's checkpoints, and the .checkpoints folder once it is empty."""
    shutil.rmtree(directory, ignore_errors=True)
    if directory.parent.is_dir() and not any(directory.parent.iterdir()):
        directory.parent.rmdir()
