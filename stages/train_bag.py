"""Stages train_student and train_autodidact: the bag student, and its hard-label twin.

    python stages/train_bag.py student      # distilled: the teacher's logits on train + the transfer set
    python stages/train_bag.py autodidact   # the control: the same model and loop, hard labels only

Writes data/<role>/: models/seed_<s>.safetensors (each the epoch with the best dev accuracy),
metrics.json and history.csv (per epoch, mean over the seeds still training). Test labels are scored,
never used to choose.
"""

import sys

import numpy as np
import pyarrow as pa

from common import (
    DistilleryError,
    load_params,
    read_json,
    read_parquet,
    run_stage,
    seed_everything,
    staged_outputs,
    write_json,
)
from losses import AUTODIDACT_LOSS, Loss
from student import (
    BagOfEmbeddings,
    Packed,
    Settings,
    Split,
    save_student,
    train,
)
from task import label_array, unlabelled
from training import mean_history, seeds_summary, teacher_logits_for, write_history

ROLES = ("student", "autodidact")


def main() -> None:
    role = sys.argv[1] if len(sys.argv) == 2 else None
    if role not in ROLES:
        raise DistilleryError(f"usage: train_bag.py ROLE, with ROLE one of {list(ROLES)}")
    params = load_params()
    settings = Settings.from_params(params)
    loss = Loss.from_params(params, "student") if role == "student" else AUTODIDACT_LOSS
    vocab = read_json("data/tokenized/vocab.json")
    num_classes = len(read_json("data/prepared/labels.json")["labels"])
    skip_ids = () if settings.recipe.frame_tokens else tuple(vocab["frame_ids"])
    tables = {split: read_parquet(f"data/tokenized/{split}.parquet") for split in ("train", "dev", "test")}
    # The whole text (full_ids), not the teacher's window: a bag's cost is linear in its length.
    train_ids, train_labels = tables["train"]["full_ids"], label_array(tables["train"]["label"])
    if role == "student":
        targets = teacher_logits_for(tables["train"], "data/logits/train.parquet")
        transfer = read_parquet("data/augmented/transfer.parquet")
        targets = np.concatenate([targets, teacher_logits_for(transfer, "data/logits/transfer.parquet")])
        train_ids = pa.chunked_array(train_ids.chunks + transfer["input_ids"].chunks)
        train_labels = np.concatenate([train_labels, unlabelled(transfer.num_rows, train_labels)])
    else:
        targets = np.zeros((len(train_labels), num_classes))
    train_data = Packed(train_ids, skip_ids, settings.max_length)
    dev, test = (
        Split(Packed(tables[s]["full_ids"], skip_ids, settings.max_length), label_array(tables[s]["label"]))
        for s in ("dev", "test")
    )
    print(f"{role}: {len(train_labels)} training examples, {loss}, seeds {settings.seeds()}")

    runs = {}
    for seed in settings.seeds():
        seed_everything(seed)  # the embedding init
        model = BagOfEmbeddings(
            vocab["vocab_size"], settings.dim, num_classes, skip_ids, settings.recipe.init, settings.max_length
        )
        history, best_epoch = train(
            model, train_data, targets, train_labels, dev, test, loss, settings, seed, f"{role} seed {seed}"
        )
        runs[seed] = (model, history, best_epoch)
        kept = history[best_epoch - 1]
        print(
            f"{role} seed {seed}: trained {len(history)} epochs, kept epoch {best_epoch} "
            f"(dev accuracy {kept['dev_acc']:.4f}, train accuracy {kept['train_acc']:.4f})"
        )

    with staged_outputs(f"data/{role}") as out:
        (out / "models").mkdir()
        for seed, (model, _, _) in runs.items():
            save_student(model, out / "models" / f"seed_{seed}.safetensors")
        write_history(mean_history([history for _, history, _ in runs.values()]), out / "history.csv")
        write_json(seeds_summary(runs, len(train_labels)), out / "metrics.json")


if __name__ == "__main__":
    run_stage(main)
