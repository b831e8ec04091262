"""The students that read word order (transformer, BiLSTM) and their twins: one architecture, one role.

A distilled student learns from the teacher's logits on train and on the mixes of the transfer set and
the unlabelled pool that `<arch>.transfer` and `<arch>.pool` list (training.mixes: the best on dev is
kept), and with `beta` from its hidden states; its twin from the hard labels of train alone.
Both run the shared loop on the token ids of their backbone (students/backbones.py: the teacher's, or
their own tokenizer's, joined to the teacher's logits by text id).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from distillery.core import paths
from distillery.core.errors import DistilleryError
from distillery.core.files import read_json, read_parquet, staged_outputs
from distillery.core.params import load_params, param
from distillery.core.task import label_array, read_task, unlabelled
from distillery.students.backbones import token_tables
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
from distillery.training.mixes import Mix, TeacherLabelled, mixes, teacher_labelled, train_each_mix
from distillery.training.runs import SeedRun, seeds_summary, teacher_logits_for, write_runs


def teacher_hidden_for(table: pa.Table, extra: TeacherLabelled) -> np.ndarray:
    """The teacher's pooled hidden states (data/hidden) for `table`'s rows, then for the mix's teacher-labelled
    rows: NaN for the transfer set's (never cached), the cached ones for the pool's."""
    train = cached_hidden(paths.hidden("train"), table["id"])
    pool = cached_hidden(paths.hidden("pool"), read_parquet(paths.POOL)["id"])
    transfer_rows, pool_rows = len(extra.rows["transfer"]), extra.rows["pool"]
    missing = np.full((transfer_rows + len(pool_rows), train.shape[1]), np.nan, dtype=np.float32)
    if len(pool):
        missing[transfer_rows:] = pool[pool_rows]
    return np.concatenate([train, missing])


def cached_hidden(path: Path, ids: pa.ChunkedArray | None = None) -> np.ndarray:
    """A teacher_hidden table as [rows, width], checked against the ids it must be for."""
    cached = read_parquet(path)
    if ids is not None and cached["id"] != ids:
        raise DistilleryError(f"{path} does not match its inputs: run 'dvc repro' to rebuild it")
    if cached.num_rows == 0:
        return np.zeros((0, 0), dtype=np.float32)
    # Parquet stores the fixed-size list as a plain list: every row has the teacher's width.
    return cached["hidden"].combine_chunks().flatten().to_numpy().reshape(cached.num_rows, -1)


def train_encoder(params: dict, arch: str, role: str) -> tuple[dict[int, SeedRun], dict]:
    """Every seed of `arch` in `role` ("student" or "twin"), and its metrics.json. Params are checked first."""
    module, budget, loss = architecture(arch), Budget.from_params(params, arch), loss_for(role, params, arch)
    tried = mixes(params, arch, role)
    task = read_task()
    tokens = token_tables(arch)
    pad_id = read_json(tokens.vocab)["pad_id"]
    setup = EncoderTask(task.label_names, task.multi_label, pad_id, str(param(params, "teacher.model")))
    tables = {split: read_parquet(tokens.split(split)) for split in paths.SPLITS}
    splits = {
        split: token_examples(tables[split]["input_ids"].to_pylist(), label_array(tables[split]["label"]), pad_id)
        for split in ("dev", "test")
    }
    train_ids, labels = tables["train"]["input_ids"].to_pylist(), label_array(tables["train"]["label"])
    targets = teacher_logits_for(tables["train"], paths.logits("train")) if role == "student" else None
    seeds = [int(param(params, "seed")) + i for i in range(budget.n_seeds)]
    if loss.beta > 0:  # refused before any training: a cosine between vectors of two widths means nothing
        student, teacher = (
            module.build(role, params, setup).width,
            read_json(paths.TEACHER / "config.json")["hidden_size"],
        )
        if student != teacher:
            raise DistilleryError(
                f"params.yaml: '{arch}.beta' pulls the student's hidden states towards the teacher's, but the "
                f"student is {student} wide and the teacher {teacher}: set {arch}.beta: 0, or start the student "
                "from a model of the teacher's width"
            )

    def train_mix(mix: Mix) -> tuple[dict, dict[int, SeedRun]]:
        extra = teacher_labelled(
            mix, int(param(params, "seed")), task.num_labels, sources=(tokens.transfer, tokens.pool)
        )
        token_ids = train_ids + extra.ids.to_pylist()
        mix_labels = np.concatenate([labels, unlabelled(len(extra.logits), labels)])
        mix_targets = None if targets is None else np.concatenate([targets, extra.logits])
        train = token_examples(token_ids, mix_labels, pad_id, mix_targets)
        if loss.beta > 0:
            train.hidden = teacher_hidden_for(tables["train"], extra)
        print(f"{arch} {role}: {train.size} training examples ({mix}), {loss}, seeds {seeds}")
        runs = {}
        for seed in seeds:
            seed_everything(seed)  # a twin's new head, the BiLSTM's layers
            model = module.build(role, params, setup)
            desc = f"{arch} {role} seed {seed}"
            runs[seed] = SeedRun(model, *train_seed(model, train, splits, loss, budget, seed, desc))
            runs[seed].log(f"{arch} {role}", seed)
        return seeds_summary(runs, len(labels), extra.counts), runs

    summary, runs = train_each_mix(tried, train_mix, task.multi_label, f"{arch} {role}")
    return runs, summary


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
