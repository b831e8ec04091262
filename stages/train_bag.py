"""Stages train_student and train_autodidact: the bag student, and its hard-label twin.

    python stages/train_bag.py student      # distilled: the teacher's logits on train and `student.transfer`
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
    fractions,
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
from task import is_multi_label, label_array, unlabelled
from training import mean_history, seeds_summary, teacher_logits_for, transfer_sample, write_history

ROLES = ("student", "autodidact")


def main() -> None:
    role = sys.argv[1] if len(sys.argv) == 2 else None
    if role not in ROLES:
        raise DistilleryError(f"usage: train_bag.py ROLE, with ROLE one of {list(ROLES)}")
    params = load_params()
    settings = Settings.from_params(params)
    loss = Loss.from_params(params, "student") if role == "student" else AUTODIDACT_LOSS
    shares = fractions(params, "student.transfer") if role == "student" else [0.0]
    vocab = read_json("data/tokenized/vocab.json")
    num_classes = len(read_json("data/prepared/labels.json")["labels"])
    skip_ids = () if settings.recipe.frame_tokens else tuple(vocab["frame_ids"])
    tables = {split: read_parquet(f"data/tokenized/{split}.parquet") for split in ("train", "dev", "test")}
    dev, test = (
        Split(Packed(tables[s]["full_ids"], skip_ids, settings.max_length), label_array(tables[s]["label"]))
        for s in ("dev", "test")
    )
    # The whole text (full_ids), not the teacher's window: a bag's cost is linear in its length.
    train_ids, train_labels = tables["train"]["full_ids"], label_array(tables["train"]["label"])
    if role == "student":
        targets = teacher_logits_for(tables["train"], "data/logits/train.parquet")
    else:
        targets = np.zeros((len(train_labels), num_classes))

    # Each share of the transfer set trains every seed; the share with the best mean dev score is kept.
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
        print(f"{role}: {len(labels)} training examples (transfer {share}), {loss}, seeds {settings.seeds()}")
        runs = {}
        for seed in settings.seeds():
            seed_everything(seed)  # the embedding init
            model = BagOfEmbeddings(
                vocab["vocab_size"], settings.dim, num_classes, skip_ids, settings.recipe.init, settings.max_length
            )
            history, best_epoch = train(
                model, train_data, share_targets, labels, dev, test, loss, settings, seed, f"{role} seed {seed}"
            )
            runs[seed] = (model, history, best_epoch)
            kept = history[best_epoch - 1]
            print(
                f"{role} seed {seed}: trained {len(history)} epochs, kept epoch {best_epoch} "
                f"(dev accuracy {kept['dev_acc']:.4f}, train accuracy {kept['train_acc']:.4f})"
            )
        candidates[share] = seeds_summary(runs, len(labels)), runs

    chosen = best_share({share: summary for share, (summary, _) in candidates.items()}, is_multi_label(train_labels))
    summary, runs = candidates[chosen]
    if len(shares) > 1:
        print(f"{role}: kept transfer {chosen}, the best on dev of {shares}")
    with staged_outputs(f"data/{role}") as out:
        (out / "models").mkdir()
        for seed, (model, _, _) in runs.items():
            save_student(model, out / "models" / f"seed_{seed}.safetensors")
        write_history(mean_history([history for _, history, _ in runs.values()]), out / "history.csv")
        dev_per_share = {str(share): mean_dev(summary) for share, (summary, _) in candidates.items()}
        write_json(summary | {"transfer": chosen, "dev_per_transfer": dev_per_share}, out / "metrics.json")


def mean_dev(summary: dict) -> dict[str, float]:
    """A setting's mean dev accuracy and dev loss over its seeds."""
    return {
        metric: round(float(np.mean(list(summary[f"dev_{metric}_per_seed"].values()))), 6)
        for metric in ("accuracy", "loss")
    }


def best_share(summaries: dict[float, dict], multi_label: bool) -> float:
    """The share with the best mean dev accuracy (the lowest dev loss for multi-label); the smallest on a tie."""
    if multi_label:
        return min(summaries, key=lambda share: (mean_dev(summaries[share])["loss"], share))
    return min(summaries, key=lambda share: (-mean_dev(summaries[share])["accuracy"], share))


if __name__ == "__main__":
    run_stage(main)
