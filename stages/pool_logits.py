"""Stage pool_logits: the teacher labels the unlabelled pool (data/pool) once, at teacher.infer_precision.

Writes data/logits/pool.parquet, in the same columns as teacher_logits' files. The pool may be large:
it is scored `teacher.label_chunk` texts at a time, each chunk kept under .checkpoints/ until the
stage ends, so a killed run resumes at the chunk it was on. On many GPUs (or CPU processes) run it as
`accelerate launch --num_processes N stages/pool_logits.py`: each process scores its share of every
chunk, and the result is the same bytes.
"""

from distillery.core import paths
from distillery.core.errors import run_stage
from distillery.core.files import read_json, read_parquet, staged_outputs, write_parquet
from distillery.core.params import load_params
from distillery.core.task import read_task
from distillery.teacher import checkpoints
from distillery.teacher.labelling import label_in_chunks
from distillery.teacher.processes import is_main_process


def main() -> None:
    params = load_params()
    work = checkpoints.checkpoint_dir("pool_logits", params)
    pool = read_parquet(paths.POOL).select(["id", "input_ids"])
    table = label_in_chunks(params, pool, read_json(paths.VOCAB)["pad_id"], read_task(), work, "pool_logits")
    if is_main_process():
        with staged_outputs(paths.LOGITS) as out:
            write_parquet(table, out / paths.POOL_LOGITS.name)
        checkpoints.remove(work)


if __name__ == "__main__":
    run_stage(main)
