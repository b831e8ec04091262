"""Plumbing every stage shares: params, clear errors, atomic outputs, deterministic files."""

from __future__ import annotations

import contextlib
import json
import random
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

PARAMS_FILE = Path("params.yaml")


class DistilleryError(Exception):
    """A problem the user can fix: the message names the file, column or param and how to fix it."""


def run_stage(main: Callable[[], None]) -> None:
    """Run a stage's main(); a DistilleryError becomes one clear line on stderr and exit status 2."""
    try:
        main()
    except DistilleryError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


# The keys every architecture that reads word order has in its section (encoders.Budget and losses.Loss).
ENCODER_KEYS = {"n_seeds", "epochs", "patience", "batch_size", "lr", "weight_decay", "warmup_ratio", "transfer"}
ENCODER_KEYS |= {"loss", "temperature", "alpha", "model"}  # model: the architecture's own keys

# Every key params.yaml may hold: top-level keys, and the keys of each section. The keys below
# baselines' grids are checked by the stages that read them.
KNOWN_PARAMS: dict[str, set[str] | None] = {
    "lr": None,
    "seed": None,
    "data": {"source", "text_column", "label_column", "encoding", "max_examples", "balance"}
    | {"test_fraction", "dev_fraction"},
    "teacher": {"model", "fine_tune", "max_length", "epochs", "patience", "batch_size", "lr", "warmup_ratio"}
    | {"weight_decay", "device", "checkpoint_steps", "infer_batch_size", "infer_precision"},
    "augment": {"p_mask", "p_pos", "p_ng", "n_iter"},
    "student": {"recipe", "n_seeds", "dim", "epochs", "patience", "max_length", "batch_size", "loss", "temperature"}
    | {"alpha", "transfer"},
    "bilstm": ENCODER_KEYS,
    "transformer": ENCODER_KEYS | {"beta"},
    "baselines": {"fasttext_grid", "sklearn_grid"},
    "compare": {"speed_examples"},
}


def load_params(path: Path = PARAMS_FILE) -> dict[str, Any]:
    if not path.exists():
        raise DistilleryError(f"{path} not found: run the stage from the project root")
    try:
        params = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise DistilleryError(f"{path} is not valid YAML ({where}{getattr(error, 'problem', error)}); fix it") from None
    if not isinstance(params, dict):
        raise DistilleryError(f"{path} must be a mapping of sections (data:, teacher:, ...); fix it")
    _reject_unknown_keys(params, path)
    return params


def _reject_unknown_keys(params: dict[str, Any], path: Path) -> None:
    """A misspelled key (`studnet:`, `student.temprature`) would silently fall back to a default: refuse it."""
    import difflib

    for dotted, known in _keys_and_siblings(params):
        if dotted.rsplit(".", 1)[-1] not in known:
            prefix = dotted.rpartition(".")[0] + "." if "." in dotted else ""
            close = difflib.get_close_matches(dotted.rsplit(".", 1)[-1], sorted(known), n=1)
            hint = f"did you mean '{prefix}{close[0]}'?" if close else f"known here: {', '.join(sorted(known))}"
            raise DistilleryError(f"{path}: unknown key '{dotted}' ({hint}); fix or remove it")


def _keys_and_siblings(params: dict[str, Any]) -> Iterator[tuple[str, set[str]]]:
    """(dotted key, the keys allowed beside it) for every top-level and section key in params."""
    for key, value in params.items():
        yield str(key), set(KNOWN_PARAMS)
        section = KNOWN_PARAMS.get(key)
        if section is not None and isinstance(value, dict):
            for name in value:
                yield f"{key}.{name}", section


def param(params: dict[str, Any], dotted: str) -> Any:
    """params['a']['b'] for 'a.b', with an error that names the missing key."""
    node: Any = params
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            raise DistilleryError(f"params.yaml: missing '{dotted}'; add it (see the README's params table)")
        node = node[key]
    return node


def _number(value: Any) -> Any:
    """YAML 1.1 (PyYAML) reads 1e-5, without a dot, as a string; `dvc exp run -S x=1e-5` writes exactly that."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def positive(params: dict[str, Any], dotted: str, kind: type = float) -> Any:
    value = _number(param(params, dotted))
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise DistilleryError(f"params.yaml: '{dotted}' must be a number > 0, got {value!r}")
    if kind is int and int(value) != value:
        raise DistilleryError(f"params.yaml: '{dotted}' must be a whole number, got {value!r}")
    return kind(value)


def optional_positive(params: dict[str, Any], dotted: str) -> int | None:
    """A whole number > 0, or null for 'no limit'."""
    value = param(params, dotted)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise DistilleryError(f"params.yaml: '{dotted}' must be a whole number > 0 or null, got {value!r}")
    return value


def fraction(params: dict[str, Any], dotted: str, low_open: bool = True) -> float:
    """A number in (0, 1), or [0, 1] when low_open is False (weights and probabilities)."""
    value = _number(param(params, dotted))
    bad = isinstance(value, bool) or not isinstance(value, (int, float))
    if not bad:
        bad = not (0 < value < 1) if low_open else not (0 <= value <= 1)
    if bad:
        interval = "(0, 1), exclusive" if low_open else "[0, 1]"
        raise DistilleryError(f"params.yaml: '{dotted}' must be in {interval}, got {value!r}")
    return float(value)


def fractions(params: dict[str, Any], dotted: str) -> list[float]:
    """One number in [0, 1], or a list of them (settings to try on dev): the distinct values, ascending."""
    value = param(params, dotted)
    values = [_number(v) for v in (value if isinstance(value, list) else [value])]
    if not values or any(isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1 for v in values):
        raise DistilleryError(f"params.yaml: '{dotted}' must be a number in [0, 1] or a list of them, got {value!r}")
    return sorted({float(v) for v in values})


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


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
