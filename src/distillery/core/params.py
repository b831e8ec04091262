"""params.yaml: reading it, refusing unknown keys, and typed reads that name the param on a bad value."""

from __future__ import annotations

import atexit
import difflib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from distillery.core.errors import DistilleryError

PARAMS_FILE = Path("params.yaml")
# With this variable set, a stage appends the params it read (through `param`) to that file as a JSON
# line when it ends: tests/pipeline/test_dvc_yaml.py checks each stage's `params:` list against it.
TRACE_ENV = "DISTILLERY_PARAMS_TRACE"
_reads: set[str] = set()


# The keys every architecture that reads word order has in its section (encoders.Budget and losses.Loss).
ENCODER_KEYS = {"n_seeds", "epochs", "patience", "batch_size", "lr", "weight_decay", "warmup_ratio", "transfer", "pool"}
ENCODER_KEYS |= {"min_steps", "cooldown"}
ENCODER_KEYS |= {"loss", "temperature", "alpha", "model"}  # model: the architecture's own keys

# Every key params.yaml may hold: top-level keys, and the keys of each section. The keys below
# baselines' grids are checked by the stages that read them.
KNOWN_PARAMS: dict[str, set[str] | None] = {
    "lr": None,
    "seed": None,
    "data": {"source", "text_column", "label_column", "encoding", "max_examples", "balance"}
    | {"test_fraction", "dev_fraction", "train_labels", "unlabelled", "unlabelled_text_column", "unlabelled_max"},
    "teacher": {"model", "fine_tune", "method", "probe_c", "max_length", "epochs", "patience", "min_steps"}
    | {"batch_size", "lr"}
    | {"head_lr", "warmup_ratio", "cooldown", "weight_decay", "device", "checkpoint_steps", "infer_batch_size"}
    | {"infer_precision", "label_chunk"},
    "augment": {"p_mask", "p_pos", "p_ng", "n_iter"},
    "bag": {"model", "recipe", "n_seeds", "dim", "epochs", "patience", "max_length", "batch_size", "loss"}
    | {"temperature"}
    | {"alpha", "transfer", "pool"},
    "bilstm": ENCODER_KEYS,
    "transformer": ENCODER_KEYS | {"beta"},
    "baselines": {"fasttext_grid", "sklearn_grid", "setfit_grid", "setfit_max_labels", "setfit_body"},
    "compare": {"speed_examples", "speed_seconds"},
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
    if os.environ.get(TRACE_ENV):
        atexit.register(_write_trace, Path(os.environ[TRACE_ENV]))
    return params


def _write_trace(trace: Path) -> None:
    with trace.open("a", encoding="utf-8") as file:
        file.write(json.dumps({"argv": sys.argv, "reads": sorted(_reads)}) + "\n")


def _reject_unknown_keys(params: dict[str, Any], path: Path) -> None:
    """A misspelled key (`studnet:`, `student.temprature`) would silently fall back to a default: refuse it."""
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
    _reads.add(dotted)
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
