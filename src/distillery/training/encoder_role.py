"""The students that read word order (transformer, BiLSTM) and their twins: one architecture, one role.

A distilled student learns from the teacher's logits on train (and on `<arch>.transfer` of the
transfer set, and with `beta` from its hidden states); its twin from the hard labels of train alone.
Both run the shared loop on the teacher's token ids.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from distillery.core import paths
from distillery.core.errors import DistilleryError
from distillery.core.files import read_json, read_parquet, staged_outputs
from distillery.core.params import load_params, param
from distillery.core.task import label_array, read_task, unlabelled
from distillery.students.encoders import (
    ARCHITECTURES,
    Budget,
    EncoderTask,
    architecture,
    loss_for,
    token_examples,
    train_seed,
)
from distillery.training.loop import seed_everything
from distillery.training.runs import SeedRun, seeds_summary, teacher_logits_for, transfer_sample, write_runs


def teacher_hidden_for(table: pa.Table, rows: int) -> np.ndarray:
    """The teacher's pooled hidden states for `table`'s rows (data/hidden), then NaN rows for the transfer set."""
    cached = read_parquet(paths.HIDDEN)
    if cached["id"] != table["id"]:
        raise DistilleryError(f"{paths.HIDDEN} does not match its inputs: run 'dvc repro' to rebuild it")
    # Parquet stores the fixed-size list as a plain list: every row has the teacher's width.
    hidden = cached["hidden"].combine_chunks().flatten().to_numpy().reshape(cached.num_rows, -1)
    return np.concatenate([hidden, np.full((rows - len(hidden), hidden.shape[1]), np.nan, dtype=np.float32)])


def train_encoder(params: dict, arch: str, role: str) -> tuple[dict[int, SeedRun], dict]:
    """Every seed of `arch` in `role` ("student" or "twin"), and its metrics.json. Params are checked first."""
    module, budget, loss = architecture(arch), Budget.from_params(params, arch, role), loss_for(role, params, arch)
    task = read_task()
    pad_id = read_json(paths.VOCAB)["pad_id"]
    setup = EncoderTask(task.label_names, task.multi_label, pad_id, str(param(params, "teacher.model")))
    tables = {split: read_parquet(paths.tokenized(split)) for split in paths.SPLITS}
    splits = {
        split: token_examples(tables[split]["input_ids"].to_pylist(), label_array(tables[split]["label"]), pad_id)
        for split in ("dev", "test")
    }
    token_ids, labels = tables["train"]["input_ids"].to_pylist(), label_array(tables["train"]["label"])
    targets = None
    if role == "student":
        targets = teacher_logits_for(tables["train"], paths.logits("train"))
        if budget.transfer > 0:
            transfer_ids, transfer_logits = transfer_sample(budget.transfer, int(param(params, "seed")))
            token_ids += transfer_ids.to_pylist()
            labels = np.concatenate([labels, unlabelled(len(transfer_logits), labels)])
            targets = np.concatenate([targets, transfer_logits])
    train = token_examples(token_ids, labels, pad_id, targets)
    if loss.beta > 0:
        train.hidden = teacher_hidden_for(tables["train"], train.size)
    seeds = [int(param(params, "seed")) + i for i in range(budget.n_seeds)]
    print(f"{arch} {role}: {train.size} training examples, {loss}, seeds {seeds}")

    runs = {}
    for seed in seeds:
        seed_everything(seed)  # a twin's new head, the BiLSTM's layers
        model = module.build(role, params, setup)
        runs[seed] = SeedRun(model, *train_seed(model, train, splits, loss, budget, seed, f"{arch} {role} seed {seed}"))
        runs[seed].log(f"{arch} {role}", seed)
    return runs, seeds_summary(runs, train.size)


def run_stage_role(role: str, arguments: list[str]) -> None:
    """The distil@ARCH (role "student") and twin@ARCH (role "twin") stages, ARCH their one argument:
    train every seed and write data/ARCH/<role>/ atomically."""
    if len(arguments) != 1 or arguments[0] not in ARCHITECTURES:
        script = "distil.py" if role == "student" else "twin.py"
        raise DistilleryError(f"usage: {script} ARCH, ARCH one of {list(ARCHITECTURES)}")
    arch = arguments[0]
    runs, summary = train_encoder(load_params(), arch, role)
    with staged_outputs(paths.trained(arch, role)) as out:
        write_runs(out, runs, architecture(arch).save, summary)
