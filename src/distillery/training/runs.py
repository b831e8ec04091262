"""What every student and twin stage does around the loop: its training data from the teacher's outputs,
a line per seed, and its outputs (models, history.csv, metrics.json) written the same way."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch

from distillery.core.errors import DistilleryError
from distillery.core.files import read_parquet, write_json
from distillery.training.loop import HISTORY_COLUMNS
from distillery.training.selection import DevScore


@dataclass
class SeedRun:
    """One seed's trained model (the weights it kept), its per-epoch history, the kept epoch and the cooldown of
    that epoch's weights (loop.Fitted)."""

    model: torch.nn.Module
    history: list[dict[str, float]]
    best_epoch: int
    cooldown: dict | None = None

    @property
    def kept(self) -> dict[str, float]:
        """The dev figures of the weights kept: the cooled ones where dev chose them, else the kept epoch's."""
        held = self.history[self.best_epoch - 1]
        return self.cooldown if self.cooldown and self.cooldown["kept"] else held

    def log(self, name: str, seed: int) -> None:
        cooled = ""
        if self.cooldown:
            verdict = "kept" if self.cooldown["kept"] else "not kept"
            cooled = f", cooled down {self.cooldown['steps']} steps ({verdict}: dev {self.cooldown['dev_acc']:.4f})"
        print(
            f"{name} seed {seed}: trained {len(self.history)} epochs, kept epoch {self.best_epoch}{cooled} "
            f"(dev accuracy {self.kept['dev_acc']:.4f}, train accuracy "
            f"{self.history[self.best_epoch - 1]['train_acc']:.4f})"
        )


def write_runs(
    out: Path, runs: dict[int, SeedRun], save: Callable[[torch.nn.Module, Path], None], summary: dict
) -> None:
    """models/seed_<s> (as `save` writes it), history.csv (mean over the seeds still training) and metrics.json."""
    (out / "models").mkdir(parents=True, exist_ok=True)
    for seed, run in runs.items():
        save(run.model, out / "models" / f"seed_{seed}")
    write_history(mean_history([run.history for run in runs.values()]), out / "history.csv")
    write_json(summary, out / "metrics.json")


def write_history(history: list[dict[str, float]], path: Path) -> None:
    lines = [",".join(HISTORY_COLUMNS)]
    for row in history:
        lines.append(",".join(str(row[k]) if k in ("epoch", "seeds") else f"{row[k]:.6f}" for k in HISTORY_COLUMNS))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def mean_history(histories: list[list[dict[str, float]]]) -> list[dict[str, float]]:
    """The per-epoch mean over the seeds that trained that epoch (early stopping ends seeds at different epochs)."""
    rows = []
    for epoch in range(max(len(history) for history in histories)):
        running = [history[epoch] for history in histories if len(history) > epoch]
        means = {key: float(np.mean([row[key] for row in running])) for key in HISTORY_COLUMNS[2:]}
        rows.append({"epoch": epoch + 1, "seeds": len(running)} | means)
    return rows


def teacher_logits_for(table: pa.Table, logits_path: Path) -> np.ndarray:
    """The teacher's logits for the rows of `table`, checked to be for the same examples."""
    logits = read_parquet(logits_path)
    if logits["id"] != table["id"]:
        raise DistilleryError(f"{logits_path} does not match its inputs: run 'dvc repro' to rebuild it")
    columns = [name for name in logits.column_names if name.startswith("logit_")]
    return np.stack([logits[name].to_numpy() for name in columns], axis=1)


def seeds_summary(runs: dict[int, SeedRun], labelled: int, teacher_labelled: dict[str, int]) -> dict:
    """metrics.json of a training stage: per seed, the epochs trained and kept, the kept weights' dev figures and
    the cooldown (its steps, and whether dev kept it);
    the labelled texts it trained on, and the teacher-labelled ones from each set ({"transfer": n, "pool": n})."""
    kept = {seed: run.kept for seed, run in runs.items()}
    train_accuracy = np.mean([run.history[run.best_epoch - 1]["train_acc"] for run in runs.values()])
    summary = {
        "best_epoch_per_seed": {str(seed): run.best_epoch for seed, run in runs.items()},
        "epochs_trained_per_seed": {str(seed): len(run.history) for seed, run in runs.items()},
        "train_accuracy": round(float(train_accuracy), 6),
        "dev_accuracy_per_seed": {str(seed): round(row["dev_acc"], 6) for seed, row in kept.items()},
        "dev_loss_per_seed": {str(seed): round(row["dev_loss"], 6) for seed, row in kept.items()},
        "params": sum(p.numel() for p in next(iter(runs.values())).model.parameters()),
        "train_examples": labelled + sum(teacher_labelled.values()),
        "labelled_examples": labelled,
        "teacher_labelled_examples": teacher_labelled,
    }
    if any(run.cooldown for run in runs.values()):
        summary["cooldown_per_seed"] = {
            str(seed): {key: run.cooldown[key] for key in ("steps", "kept")} for seed, run in runs.items()
        }
    return summary


def mean_dev(summary: dict) -> DevScore:
    """A setting's mean dev accuracy and dev loss over its seeds (seeds_summary's figures)."""
    return DevScore(
        accuracy=round(float(np.mean(list(summary["dev_accuracy_per_seed"].values()))), 6),
        loss=round(float(np.mean(list(summary["dev_loss_per_seed"].values()))), 6),
    )
