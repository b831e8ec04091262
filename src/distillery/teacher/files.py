"""Where a teacher's files are, and a fingerprint of them: cheap, with no torch or transformers import."""

from __future__ import annotations

from pathlib import Path

from distillery.core.errors import DistilleryError
from distillery.teacher import bundled

BUNDLED_TEACHER = bundled.MINILM


def resolve_model(name: str, param_name: str = "teacher.model") -> str:
    """Map a model reference (the param `param_name`) to what from_pretrained takes: a local directory or a hub id."""
    if name.startswith("bundled:"):
        return bundled.resolve(name)
    path = Path(name).expanduser()
    if path.exists() or name.startswith((".", "/", "~")):
        if not (path / "config.json").is_file():
            raise DistilleryError(
                f"{param_name}: '{name}' is not a model directory (no config.json there); "
                "point it at a folder written by save_pretrained, or use a Hugging Face hub id"
            )
        return str(path)
    return name


def fingerprint(name: str) -> dict:
    """SHA-256 of every file of a local teacher (by name within the folder, not by path); a hub id as is."""
    location = Path(resolve_model(name))
    if not location.is_dir():
        return {"hub_id": name}
    files = sorted(path for path in location.rglob("*") if path.is_file() and ".cache" not in path.parts)
    return {"files": {path.relative_to(location).as_posix(): bundled.sha256(path) for path in files}}


def hub_error(name: str, error: Exception, param_name: str = "teacher.model") -> DistilleryError:
    return DistilleryError(
        f"{param_name}: could not load '{name}' ({type(error).__name__}: {str(error).splitlines()[0]}); "
        "if it is a hub id, this machine may be offline or the id misspelled: save the model with "
        "save_pretrained where the hub is reachable, and point {param_name} at that local directory"
    )
