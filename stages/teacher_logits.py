"""Stages teacher_logits and transfer_logits: score texts with the teacher once; DVC caches the result.

    python stages/teacher_logits.py train dev test   # the teacher_logits stage
    python stages/teacher_logits.py transfer         # the transfer_logits stage (data/augmented)

Writes data/logits/<split>.parquet: id, logit_0 .. logit_{C-1} (float32), teacher_pred (the class id;
for multi-label a list of 0/1, one per label, task.py), scored at `teacher.infer_precision` (fp32, or
the faster bf16 / int8 paths of teacher_inference.py).
Two stages rather than one, so a new transfer set does not re-score train, dev and test.
"""

import sys

import numpy as np
import pyarrow as pa

from common import (
    DistilleryError,
    load_params,
    param,
    positive,
    read_json,
    read_parquet,
    run_stage,
    staged_outputs,
    write_parquet,
)
from task import MULTI_LABEL, accuracy, decisions, label_array, label_column
from teacher import is_main_process, load_classifier
from teacher_inference import TeacherScorer

TEACHER, OUT = "data/teacher", "data/logits"
INPUTS = {
    "train": "data/tokenized/train.parquet",
    "dev": "data/tokenized/dev.parquet",
    "test": "data/tokenized/test.parquet",
    "transfer": "data/augmented/transfer.parquet",
}


def logits_table(ids: pa.Array, logits: np.ndarray, multi_label: bool) -> pa.Table:
    columns = {"id": ids}
    for c in range(logits.shape[1]):
        columns[f"logit_{c}"] = pa.array(logits[:, c], pa.float32())
    columns["teacher_pred"] = label_column(decisions(logits, multi_label))
    return pa.table(columns)


def main() -> None:
    splits = sys.argv[1:]
    unknown = [split for split in splits if split not in INPUTS]
    if not splits or unknown:
        raise DistilleryError(f"usage: teacher_logits.py SPLIT...; splits are {list(INPUTS)}, got {splits}")
    params = load_params()
    batch_size = positive(params, "teacher.infer_batch_size", int)
    device = str(param(params, "teacher.device"))
    precision = str(param(params, "teacher.infer_precision"))
    pad_id = read_json("data/tokenized/vocab.json")["pad_id"]
    multi_label = read_json("data/prepared/labels.json").get("task") == MULTI_LABEL
    scorer = TeacherScorer(load_classifier(f"./{TEACHER}"), device, precision)

    tables = {}
    for split in splits:
        examples = read_parquet(INPUTS[split])
        token_ids = examples["input_ids"].to_pylist()
        logits = scorer.logits(token_ids, pad_id, batch_size, progress=f"teacher_logits {split} ({precision})")
        tables[split] = logits_table(examples["id"], logits, multi_label)
        if "label" in examples.column_names:
            right = accuracy(label_array(tables[split]["teacher_pred"]), label_array(examples["label"]))
            print(f"teacher_logits: {split}: {len(logits)} examples, teacher accuracy {right:.4f}")
        else:
            print(f"teacher_logits: {split}: {len(logits)} examples labelled by the teacher")
    if is_main_process():
        with staged_outputs(OUT) as out:
            for split, table in tables.items():
                write_parquet(table, out / f"{split}.parquet")


if __name__ == "__main__":
    run_stage(main)
