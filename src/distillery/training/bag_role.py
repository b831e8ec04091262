"""The bag's student and its twin: the same model and loop. The student trains on every mix of the
transfer set's and the pool's shares in `bag.transfer` and `bag.pool` (training.mixes), the best on dev
kept; the twin on the labelled rows alone."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from distillery.core import paths
from distillery.core.files import read_json, read_parquet, staged_outputs
from distillery.core.params import load_params
from distillery.core.task import label_array, read_task, unlabelled
from distillery.students.backbones import token_tables
from distillery.students.bag import BagOfEmbeddings, Packed, Settings, Split, save_student, train
from distillery.students.bag_start import start_vectors
from distillery.training.loop import seed_everything
from distillery.training.losses import TWIN_LOSS, Loss
from distillery.training.mixes import Mix, mixes, teacher_labelled, train_each_mix
from distillery.training.runs import SeedRun, seeds_summary, teacher_logits_for, write_runs


def train_bag(params: dict, role: str) -> tuple[dict[int, SeedRun], dict]:
    """Every seed of the bag `role` ("student" or "twin"), and its metrics.json. Params are checked first."""
    settings = Settings.from_params(params)
    loss = Loss.from_params(params, "bag") if role == "student" else TWIN_LOSS
    tried = mixes(params, "bag", role)
    task = read_task()
    tokens = token_tables("bag")
    vocab = read_json(tokens.vocab)
    skip_ids = () if settings.recipe.frame_tokens else tuple(vocab["frame_ids"])
    start = start_vectors(vocab["vocab_size"], settings.dim)  # None: each seed's own random start
    tables = {split: read_parquet(tokens.split(split)) for split in paths.SPLITS}
    dev, test = (
        Split(Packed(tables[s]["full_ids"], skip_ids, settings.max_length), label_array(tables[s]["label"]))
        for s in ("dev", "test")
    )
    # The whole text (full_ids), not the teacher's window: a bag's cost is linear in its length.
    train_ids, train_labels = tables["train"]["full_ids"], label_array(tables["train"]["label"])
    if role == "student":
        targets = teacher_logits_for(tables["train"], paths.logits("train"))
    else:
        targets = np.zeros((len(train_labels), task.num_labels))

    # On short or long texts the transfer set's fragments can mislead a bag more than they teach it.
    def train_mix(mix: Mix) -> tuple[dict, dict[int, SeedRun]]:
        extra = teacher_labelled(mix, settings.seed, task.num_labels, True, (tokens.transfer, tokens.pool))
        ids = pa.chunked_array(train_ids.chunks + extra.ids.chunks, train_ids.type)
        mix_targets = np.concatenate([targets, extra.logits])
        labels = np.concatenate([train_labels, unlabelled(len(extra.logits), train_labels)])
        train_data = Packed(ids, skip_ids, settings.max_length)
        print(f"bag {role}: {len(labels)} training examples ({mix}), {loss}, seeds {settings.seeds()}")
        runs = {}
        for seed in settings.seeds():
            seed_everything(seed)  # the embedding init
            model = BagOfEmbeddings(
                vocab["vocab_size"], settings.dim, task.num_labels, skip_ids, settings.recipe.init, settings.max_length
            )
            if start is not None:
                model.embedding.weight.data.copy_(start)
            desc = f"bag {role} seed {seed}"
            runs[seed] = SeedRun(
                model, *train(model, train_data, mix_targets, labels, dev, test, loss, settings, seed, desc)
            )
            runs[seed].log(f"bag {role}", seed)
        return seeds_summary(runs, len(train_labels), extra.counts), runs

    summary, runs = train_each_mix(tried, train_mix, task.multi_label, f"bag {role}")
    return runs, summary


def run_stage_role(role: str) -> None:
    """The distil_bag (role "student") and twin_bag (role "twin") stages: train every seed and write
    data/bag/<role>/ atomically."""
    runs, summary = train_bag(load_params(), role)
    with staged_outputs(paths.trained("bag", role)) as out:
        write_runs(out, runs, lambda model, path: save_student(model, path.with_suffix(".safetensors")), summary)
