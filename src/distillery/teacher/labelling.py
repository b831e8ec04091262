"""The teacher labels texts once: logits at `teacher.infer_precision` as a parquet table per split, and
for the unlabelled pool, which may be large, in chunks that a killed run does not score again."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa

from distillery.core import paths
from distillery.core.files import read_parquet, write_parquet
from distillery.core.params import param, positive
from distillery.core.task import Task, accuracy, decisions, label_array, label_column
from distillery.teacher.inference import TeacherScorer
from distillery.teacher.model import load_trained_teacher


def logits_table(ids: pa.Array, logits: np.ndarray, multi_label: bool) -> pa.Table:
    columns = {"id": ids}
    for c in range(logits.shape[1]):
        columns[f"logit_{c}"] = pa.array(logits[:, c], pa.float32())
    columns["teacher_pred"] = label_column(decisions(logits, multi_label))
    return pa.table(columns)


def teacher_scorer(params: dict) -> TeacherScorer:
    """The trained teacher (data/teacher), ready to score at teacher.infer_precision on teacher.device."""
    precision = str(param(params, "teacher.infer_precision"))
    return TeacherScorer(load_trained_teacher(f"./{paths.TEACHER}"), str(param(params, "teacher.device")), precision)


def label_texts(params: dict, inputs: dict[str, str], pad_id: int, task: Task, stage: str) -> dict[str, pa.Table]:
    """The teacher's logits table for each named parquet of token ids (id, input_ids[, label])."""
    batch_size = positive(params, "teacher.infer_batch_size", int)
    scorer = teacher_scorer(params)
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


def label_in_chunks(params: dict, examples: pa.Table, pad_id: int, task: Task, work: Path, stage: str) -> pa.Table:
    """The teacher's logits table for `examples` (id, input_ids), scored `teacher.label_chunk` rows at a time.

    Each finished chunk is written to `work` (the main process writes, every process reads): a run killed
    midway scores only the chunks not there yet, and the result is the same bytes as an unbroken run's,
    since a chunk's batches do not depend on which run (or how many processes) scored it.
    """
    from accelerate import PartialState

    processes = PartialState()
    chunk_rows = positive(params, "teacher.label_chunk", int)
    batch_size = positive(params, "teacher.infer_batch_size", int)
    starts = range(0, examples.num_rows, chunk_rows)
    files = [work / f"chunk_{number:06d}.parquet" for number in range(len(starts))]
    done = sum(file.exists() for file in files)
    if done:
        print(f"{stage}: resuming: {done} of {len(files)} chunks were scored by an earlier run")
    scorer = teacher_scorer(params) if done < len(files) else None
    for number, (start, file) in enumerate(zip(starts, files, strict=True)):
        if file.exists():
            continue
        chunk = examples.slice(start, chunk_rows)
        progress = f"{stage} chunk {number + 1}/{len(files)} ({scorer.precision})"
        logits = scorer.logits(chunk["input_ids"].to_pylist(), pad_id, batch_size, progress=progress)
        if processes.is_main_process:
            work.mkdir(parents=True, exist_ok=True)
            scratch = file.with_suffix(".partial")
            write_parquet(logits_table(chunk["id"], logits, task.multi_label), scratch)
            os.replace(scratch, file)  # a chunk is there whole or not at all
        processes.wait_for_everyone()
    empty = logits_table(examples["id"].slice(0, 0), np.zeros((0, task.num_labels), np.float32), task.multi_label)
    # (not concatenated with `empty`: a multi-label column is a fixed-size list there, a plain list once read back)
    table = pa.concat_tables([read_parquet(file) for file in files] or [empty]).combine_chunks()
    processes.wait_for_everyone()  # every process has read the chunks before the main one deletes them
    print(f"{stage}: {table.num_rows} unlabelled texts labelled by the teacher")
    return table
