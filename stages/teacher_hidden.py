"""Stage teacher_hidden: the teacher's sentence vectors for the training texts and the unlabelled pool,
computed once and cached.

Writes data/hidden/{train,pool}.parquet: id and `hidden` (float32, the teacher's width). The
transformer student is pulled towards these with a cosine loss of weight `transformer.beta`
(DistilBERT's hidden-state loss), so no stage runs the teacher while a student trains. With
`transformer.beta: 0` (the default) nothing reads them: the tables have no rows and the teacher is not run.
"""

import numpy as np
import pyarrow as pa

from distillery.core import paths
from distillery.core.errors import run_stage
from distillery.core.files import read_json, read_parquet, staged_outputs, write_parquet
from distillery.core.params import load_params, param, positive
from distillery.teacher.hidden import mean_hidden_states
from distillery.teacher.model import load_trained_teacher


def main() -> None:
    params = load_params()
    texts = {"train": read_parquet(paths.tokenized("train")), "pool": read_parquet(paths.POOL)}
    needed = param(params, "transformer.beta") != 0
    if not needed:
        print("teacher_hidden: transformer.beta is 0, so no student reads hidden states; none computed")
    teacher = load_trained_teacher(f"./{paths.TEACHER}") if needed else None
    pad_id, batch_size = read_json(paths.VOCAB)["pad_id"], positive(params, "teacher.infer_batch_size", int)
    with staged_outputs(paths.HIDDEN) as out:
        for name, examples in texts.items():
            if needed:
                hidden = mean_hidden_states(teacher, examples["input_ids"].to_pylist(), pad_id, batch_size)
            else:
                examples, hidden = examples.slice(0, 0), np.zeros((0, 1), dtype=np.float32)
            width = hidden.shape[1]
            column = pa.FixedSizeListArray.from_arrays(pa.array(hidden.reshape(-1), pa.float32()), width)
            print(f"teacher_hidden: {name}: {len(hidden)} texts, {width} values each ({hidden.nbytes / 1e6:.1f} MB)")
            write_parquet(pa.table({"id": examples["id"], "hidden": column}), out / f"{name}.parquet")


if __name__ == "__main__":
    run_stage(main)
