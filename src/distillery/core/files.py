"""Outputs written atomically and byte-stably: the parquet, JSON and folders every stage leaves behind."""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from distillery.core.errors import DistilleryError


@contextlib.contextmanager
def staged_outputs(destination: str | Path) -> Iterator[Path]:
    """Yield a scratch folder; on success move each file in it into `destination`.

    A stage that fails (or is interrupted) leaves no partial output: the scratch
    folder is deleted and `destination` is left as it was. The scratch folder is in
    the system's temporary folder, not the project: a stage killed outright (SIGKILL)
    cannot clean up, and DVC may then restore its outputs from the run cache without
    running it again, so nothing it leaves may be in the project.
    """
    destination = Path(destination)
    scratch = Path(tempfile.mkdtemp(prefix=f"distillery-{destination.name}-"))
    try:
        yield scratch
        destination.mkdir(parents=True, exist_ok=True)
        for item in sorted(scratch.iterdir()):
            target = destination / item.name
            if target.is_dir():
                shutil.rmtree(target)
            shutil.move(item, target)  # a rename when the temporary folder is on the same filesystem
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def write_parquet(table: pa.Table, path: Path) -> None:
    """Byte-stable parquet: no pandas metadata, fixed compression, one row group."""
    pq.write_table(
        table.replace_schema_metadata(None),
        path,
        compression="zstd",
        compression_level=3,
        row_group_size=max(len(table), 1),
        write_statistics=False,
        store_schema=False,
    )


def read_parquet(path: Path) -> pa.Table:
    if not Path(path).exists():
        raise DistilleryError(f"{path} not found: run 'dvc repro' to build it")
    return pq.read_table(path)


def write_json(data: Any, path: Path) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def read_json(path: Path) -> Any:
    if not Path(path).exists():
        raise DistilleryError(f"{path} not found: run 'dvc repro' to build it")
    return json.loads(Path(path).read_text(encoding="utf-8"))
