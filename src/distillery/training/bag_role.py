"""The bag's student and its twin: the same model and loop, trained on every share of the transfer set
in `bag.transfer` (the twin: none); the share with the best mean dev score over the seeds is kept."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from distillery.core import paths
from distillery.core.files import read_json, read_parquet, staged_outputs
from distillery.core.params import fractions, load_params
from distillery.core.task import label_array, read_task, unlabelled
from distillery.students.bag import BagOfEmbeddings, Packed, Settings, Split, save_student, train
from distillery.training.loop import seed_everything
from distillery.training.losses import TWIN_LOSS, Loss
from distillery.training.runs import SeedRun, mean_dev, seeds_summary, teacher_logits_for, transfer_sample, write_runs
from distillery.training.selection import choose_on_dev


def train_bag(params: dict, role: str) -> tuple[dict[int, SeedRun], dict]:
    """Every seed of the bag `role` ("student" or "twin"), and its metrics.json. Params are checked first."""
    settings = Settings.from_params(params)
    loss = Loss.from_params(params, "bag") if role == "student" else TWIN_LOSS
    shares = fractions(params, "bag.transfer") if role == "student" else [0.0]
    task = read_task()
    vocab = read_json(paths.VOCAB)
    skip_ids = () if settings.recipe.frame_tokens else tuple(vocab["frame_ids"])
    tables = {split: read_parquet(paths.tokenized(split)) for split in paths.SPLITS}
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
    candidates = {}
    for share in shares:
        ids, share_targets, labels = train_ids, targets, train_labels
        if share > 0:
            transfer_ids, transfer_logits = transfer_sample(share, settings.seed)
            if len(transfer_logits) == 0:  # augment.n_iter: 0, an empty transfer set
                continue
            ids = pa.chunked_array(train_ids.chunks + transfer_ids.chunks)
            share_targets = np.concatenate([targets, transfer_logits])
            labels = np.concatenate([train_labels, unlabelled(len(transfer_logits), train_labels)])
        train_data = Packed(ids, skip_ids, settings.max_length)
        print(f"bag {role}: {len(labels)} training examples (transfer {share}), {loss}, seeds {settings.seeds()}")
        runs = {}
        for seed in settings.seeds():
            seed_everything(seed)  # the embedding init
            model = BagOfEmbeddings(
                vocab["vocab_size"], settings.dim, task.num_labels, skip_ids, settings.recipe.init, settings.max_length
            )
            desc = f"bag {role} seed {seed}"
            runs[seed] = SeedRun(
                model, *train(model, train_data, share_targets, labels, dev, test, loss, settings, seed, desc)
            )
            runs[seed].log(f"bag {role}", seed)
        candidates[share] = seeds_summary(runs, len(labels)), runs

    tried = list(candidates)
    chosen = tried[choose_on_dev([mean_dev(summary) for summary, _ in candidates.values()], task.multi_label)]
    if len(tried) > 1:
        print(f"bag {role}: kept transfer {chosen}, the best on dev of {tried}")
    summary, runs = candidates[chosen]
    dev_per_share = {str(share): vars(mean_dev(summary)) for share, (summary, _) in candidates.items()}
    return runs, summary | {"transfer": chosen, "dev_per_transfer": dev_per_share}


def run_stage_role(role: str) -> None:
    """The distil_bag (role "student") and twin_bag (role "twin") stages: train every seed and write
    data/bag/<role>/ atomically."""
    runs, summary = train_bag(load_params(), role)
    with staged_outputs(paths.trained("bag", role)) as out:
        write_runs(out, runs, lambda model, path: save_student(model, path.with_suffix(".safetensors")), summary)
