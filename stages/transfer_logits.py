"""Stage transfer_logits: the teacher labels the transfer set (data/augmented) once.

Writes data/logits/transfer.parquet, in the same columns as teacher_logits' files.
"""

from distillery.core import paths
from distillery.core.errors import run_stage
from distillery.core.files import read_json, staged_outputs, write_parquet
from distillery.core.params import load_params
from distillery.core.task import read_task
from distillery.teacher.labelling import label_texts
from distillery.teacher.processes import is_main_process


def main() -> None:
    params = load_params()
    inputs = {"transfer": paths.TRANSFER}
    tables = label_texts(params, inputs, read_json(paths.VOCAB)["pad_id"], read_task(), "transfer_logits")
    if is_main_process():
        with staged_outputs(paths.LOGITS) as out:
            write_parquet(tables["transfer"], out / paths.TRANSFER_LOGITS.name)


if __name__ == "__main__":
    run_stage(main)
