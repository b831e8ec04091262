"""The teacher labels texts once: logits at `teacher.infer_precision` as a parquet table per split."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from distillery.core import paths
from distillery.core.files import read_parquet
from distillery.core.params import param, positive
from distillery.core.task import Task, accuracy, decisions, label_array, label_column
from distillery.teacher.inference import TeacherScorer
from distillery.teacher.model import load_classifier


def logits_table(ids: pa.Array, logits: np.ndarray, multi_label: bool) -> pa.Table:
    columns = {"id": ids}
    for c in range(logits.shape[1]):
        columns[f"logit_{c}"] = pa.array(logits[:, c], pa.float32())
    columns["teacher_pred"] = label_column(decisions(logits, multi_label))
    return pa.table(columns)


def label_texts(params: dict, inputs: dict[str, str], pad_id: int, task: Task, stage: str) -> dict[str, pa.Table]:
    """The teacher's logits table for each named parquet of token ids (id, input_ids[, label])."""
    batch_size = positive(params, "teacher.infer_batch_size", int)
    precision = str(param(params, "teacher.infer_precision"))
    scorer = TeacherScorer(load_classifier(f"./{paths.TEACHER}"), str(param(params, "teacher.device")), precision)
    precision = scorer.precision
    tables = {}
    for name, path in inputs.items():
        examples = read_parquet(path)
        token_ids = examples["input_ids"].to_pylist()
        logits = scorer.logits(token_ids, pad_id, batch_size, progress=f"{stage} {name} ({precision})")
        tables[name] = logits_table(examples["id"], logits, task.multi_label)
        if "label" in examples.column_names:
            right = accuracy(label_array(tables[name]["teacher_pred"]), label_array(examples["label"]))
            print(f"{stage}: {name}: {len(logits)} examples, teacher accuracy {right:.4f} ({precision})")
        else:
            print(f"{stage}: {name}: {len(logits)} examples labelled by the teacher ({precision})")
    return tables
