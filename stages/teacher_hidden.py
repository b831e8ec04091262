"""Stage teacher_hidden: the teacher's sentence vectors for the training texts, computed once and cached.

Writes data/hidden/train.parquet: id and `hidden` (float32, the teacher's width). The transformer
student is pulled towards these with a cosine loss of weight `transformer.beta` (DistilBERT's
hidden-state loss), so no stage runs the teacher while a student trains. With `transformer.beta: 0`
(the default) nothing reads them: the table is written with no rows and the teacher is not run.
"""

import numpy as np
import pyarrow as pa

from distillery.core import paths
from distillery.core.errors import run_stage
from distillery.core.files import read_json, read_parquet, staged_outputs, write_parquet
from distillery.core.params import load_params, param, positive
from distillery.teacher.hidden import mean_hidden_states
from distillery.teacher.model import load_classifier


def main() -> None:
    params = load_params()
    examples = read_parquet(paths.tokenized("train"))
    if param(params, "transformer.beta") == 0:
        print("teacher_hidden: transformer.beta is 0, so no student reads hidden states; none computed")
        examples, hidden = examples.slice(0, 0), np.zeros((0, 1), dtype=np.float32)
    else:
        hidden = mean_hidden_states(
            load_classifier(f"./{paths.TEACHER}"),
            examples["input_ids"].to_pylist(),
            read_json(paths.VOCAB)["pad_id"],
            positive(params, "teacher.infer_batch_size", int),
        )
    width = hidden.shape[1]
    column = pa.FixedSizeListArray.from_arrays(pa.array(hidden.reshape(-1), pa.float32()), width)
    print(f"teacher_hidden: {len(hidden)} training texts, {width} values each ({hidden.nbytes / 1e6:.1f} MB)")
    with staged_outputs(paths.HIDDEN.parent) as out:
        write_parquet(pa.table({"id": examples["id"], "hidden": column}), out / paths.HIDDEN.name)


if __name__ == "__main__":
    run_stage(main)
