"""Stage teacher_logits: the teacher scores train, dev and test once; DVC caches the result.

Writes data/logits/{train,dev,test}.parquet: id, logit_0 .. logit_{C-1} (float32), teacher_pred (the
class id; for multi-label a list of 0/1, one per label), scored at `teacher.infer_precision` (fp32,
or the faster bf16 / int8 paths of distillery.teacher.inference). The transfer set is the
transfer_logits stage's, so a new transfer set does not re-score these.
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
    inputs = {split: paths.tokenized(split) for split in paths.SPLITS}
    tables = label_texts(params, inputs, read_json(paths.VOCAB)["pad_id"], read_task(), "teacher_logits")
    if is_main_process():
        with staged_outputs(paths.LOGITS) as out:
            for split, table in tables.items():
                write_parquet(table, out / f"{split}.parquet")


if __name__ == "__main__":
    run_stage(main)
