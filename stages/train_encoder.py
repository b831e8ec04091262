"""Stages distil@ARCH and twin@ARCH: the students that read word order, and their hard-label twins.

    python stages/train_encoder.py transformer student      # layers cut from the fine-tuned teacher
    python stages/train_encoder.py transformer autodidact   # the same layers of the pre-trained checkpoint
    python stages/train_encoder.py bilstm student           # Tang et al.'s BiLSTM

A distilled student learns from the teacher's logits on train (and on `<arch>.transfer` of the
transfer set); its twin from the hard labels of train alone. Both run the shared loop (training.py)
on the teacher's token ids. Writes data/<arch>/<role>/: models/seed_<s>/ (the best dev epoch of
each seed), metrics.json and history.csv (per epoch, mean over the seeds still training).
"""

import sys

import numpy as np
import pyarrow as pa

from common import (
    DistilleryError,
    load_params,
    param,
    read_json,
    read_parquet,
    run_stage,
    seed_everything,
    staged_outputs,
    write_json,
)
from encoders import (
    ARCHITECTURES,
    ROLES,
    Budget,
    Task,
    architecture,
    loss_for,
    token_examples,
    train_seed,
)
from task import MULTI_LABEL, label_array, unlabelled
from training import mean_history, seeds_summary, teacher_logits_for, transfer_sample, write_history


def teacher_hidden_for(table: pa.Table, rows: int) -> np.ndarray:
    """The teacher's pooled hidden states for `table`'s rows (data/hidden), then NaN rows for the transfer set."""
    cached = read_parquet("data/hidden/train.parquet")
    if cached["id"] != table["id"]:
        raise DistilleryError("data/hidden/train.parquet does not match its inputs: run 'dvc repro' to rebuild it")
    # Parquet stores the fixed-size list as a plain list: every row has the teacher's width.
    hidden = cached["hidden"].combine_chunks().flatten().to_numpy().reshape(cached.num_rows, -1)
    return np.concatenate([hidden, np.full((rows - len(hidden), hidden.shape[1]), np.nan, dtype=np.float32)])


def main() -> None:
    if len(sys.argv) != 3 or sys.argv[1] not in ARCHITECTURES or sys.argv[2] not in ROLES:
        raise DistilleryError(
            f"usage: train_encoder.py ARCH ROLE, ARCH in {list(ARCHITECTURES)}, ROLE in {list(ROLES)}"
        )
    arch, role = sys.argv[1], sys.argv[2]
    params = load_params()
    module, budget, loss = architecture(arch), Budget.from_params(params, arch), loss_for(role, params, arch)
    vocab = read_json("data/tokenized/vocab.json")
    labels_info = read_json("data/prepared/labels.json")
    multi_label = labels_info.get("task") == MULTI_LABEL
    task = Task(labels_info["labels"], vocab["pad_id"], str(param(params, "teacher.model")), multi_label)
    tables = {split: read_parquet(f"data/tokenized/{split}.parquet") for split in ("train", "dev", "test")}
    splits = {
        split: token_examples(tables[split]["input_ids"].to_pylist(), label_array(tables[split]["label"]), task.pad_id)
        for split in ("dev", "test")
    }
    token_ids, labels = tables["train"]["input_ids"].to_pylist(), label_array(tables["train"]["label"])
    targets = None
    if role == "student":
        targets = teacher_logits_for(tables["train"], "data/logits/train.parquet")
        if budget.transfer > 0:
            transfer_ids, transfer_logits = transfer_sample(budget.transfer, int(param(params, "seed")))
            token_ids += transfer_ids.to_pylist()
            labels = np.concatenate([labels, unlabelled(len(transfer_logits), labels)])
            targets = np.concatenate([targets, transfer_logits])
    train = token_examples(token_ids, labels, task.pad_id, targets)
    if loss.beta > 0:
        train.hidden = teacher_hidden_for(tables["train"], train.size)
    seeds = [int(param(params, "seed")) + i for i in range(budget.n_seeds)]
    print(f"{arch} {role}: {train.size} training examples, {loss}, seeds {seeds}")

    runs = {}
    for seed in seeds:
        seed_everything(seed)  # a twin's new head, the BiLSTM's layers
        model = module.build(role, params, task)
        history, best_epoch = train_seed(model, train, splits, loss, budget, seed, f"{arch} {role} seed {seed}")
        runs[seed] = (model, history, best_epoch)
        kept = history[best_epoch - 1]
        print(
            f"{arch} {role} seed {seed}: trained {len(history)} epochs, kept epoch {best_epoch} "
            f"(dev accuracy {kept['dev_acc']:.4f}, train accuracy {kept['train_acc']:.4f})"
        )

    with staged_outputs(f"data/{arch}/{role}") as out:
        for seed, (model, _, _) in runs.items():
            module.save(model, out / "models" / f"seed_{seed}")
        write_history(mean_history([history for _, history, _ in runs.values()]), out / "history.csv")
        write_json(seeds_summary(runs, train.size), out / "metrics.json")


if __name__ == "__main__":
    run_stage(main)
