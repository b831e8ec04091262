"""What a distilled student trains on besides the labelled rows: teacher-labelled texts, a share of Tang's
transfer set and a share of the unlabelled pool. One mechanism for every student: each (transfer, pool)
mix its section lists is trained, and the mix with the best mean dev score over the seeds is kept
(training.selection's rule). A twin trains on the labelled rows alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from distillery.core import paths
from distillery.core.files import read_parquet
from distillery.core.params import fractions
from distillery.training.runs import mean_dev, teacher_logits_for
from distillery.training.selection import choose_on_dev


@dataclass(frozen=True)
class Mix:
    transfer: float  # share of the transfer set
    pool: float  # share of the unlabelled pool

    def __str__(self) -> str:
        return f"transfer {self.transfer}, pool {self.pool}"


NO_MIX = Mix(0.0, 0.0)  # a twin's, or a student's with neither set


def mixes(params: dict, section: str, role: str) -> list[Mix]:
    """The mixes to try: every `<section>.transfer` share with every `<section>.pool` share (one number or a
    list each); a share of a set that is empty is 0, so a mix the data cannot tell apart is tried once."""
    if role == "twin":
        return [NO_MIX]
    shares = [(t, p) for t in fractions(params, f"{section}.transfer") for p in fractions(params, f"{section}.pool")]
    has_transfer, has_pool = (pq.read_metadata(path).num_rows > 0 for path in (paths.TRANSFER, paths.POOL))
    tried = [Mix(t if has_transfer else 0.0, p if has_pool else 0.0) for t, p in shares]
    return list(dict.fromkeys(tried))


@dataclass
class TeacherLabelled:
    """A mix's texts: token ids and the teacher's logits, transfer rows first, then pool rows."""

    ids: pa.ChunkedArray
    logits: np.ndarray
    rows: dict[str, np.ndarray]  # the rows taken from each set: {"transfer": ..., "pool": ...}

    @property
    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in self.rows.items()}


def teacher_labelled(
    mix: Mix,
    seed: int,
    num_labels: int,
    full_text: bool = False,
    sources: tuple[Path, Path] = (paths.TRANSFER, paths.POOL),
) -> TeacherLabelled:
    """The mix's share of each set, a fixed random sample in row order. `full_text`: the pool's whole texts
    (full_ids, for a bag) rather than the teacher's window (the transfer set's texts are short fragments).
    `sources`: the transfer set's and the pool's token ids, the teacher's or a student's own (the same rows)."""
    ids, logits, taken = [], [np.zeros((0, num_labels), np.float32)], {}
    for name, share, texts, labels, column in (
        ("transfer", mix.transfer, sources[0], paths.TRANSFER_LOGITS, "input_ids"),
        ("pool", mix.pool, sources[1], paths.POOL_LOGITS, "full_ids" if full_text else "input_ids"),
    ):
        taken[name] = np.zeros(0, np.int64)
        if share == 0:
            continue
        table = read_parquet(texts)
        rows = np.sort(np.random.default_rng(seed).permutation(table.num_rows)[: round(table.num_rows * share)])
        ids += table[column].take(rows).chunks
        logits.append(teacher_logits_for(table, labels)[rows])
        taken[name] = rows
    return TeacherLabelled(pa.chunked_array(ids, pa.list_(pa.int32())), np.concatenate(logits), taken)


Trained = tuple[dict, Any]  # a mix's metrics.json summary (training.runs.seeds_summary) and its seeds' runs


def train_each_mix(tried: list[Mix], train: Callable[[Mix], Trained], multi_label: bool, name: str) -> Trained:
    """Train every mix, keep the best on dev: its summary (with the mix kept and each mix's dev scores) and runs."""
    results = {mix: train(mix) for mix in tried}
    chosen = tried[choose_on_dev([mean_dev(summary) for summary, _ in results.values()], multi_label)]
    if len(tried) > 1:
        print(f"{name}: kept {chosen}, the best on dev of {len(tried)} mixes")
    summary, runs = results[chosen]
    dev_per_mix = {str(mix): vars(mean_dev(result)) for mix, (result, _) in results.items()}
    return summary | {"transfer": chosen.transfer, "pool": chosen.pool, "dev_per_mix": dev_per_mix}, runs
