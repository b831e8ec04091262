"""Stage teacher_hidden: the teacher's sentence vectors for the training texts, computed once and cached.

Writes data/hidden/train.parquet: id and `hidden` (float32, the teacher's width), the mean over each
text's real tokens of the teacher's last hidden layer. The transformer student is pulled towards
these with a cosine loss of weight `transformer.beta` (DistilBERT's and Catalyst's hidden-state loss),
so no stage runs the teacher while a student trains.
"""

import numpy as np
import pyarrow as pa
import torch
from tqdm import tqdm

from batching import length_sorted_batches, masked_mean, pad_batch
from common import load_params, positive, read_json, read_parquet, run_stage, staged_outputs, write_parquet
from teacher import load_classifier


@torch.inference_mode()
def mean_hidden_states(model: torch.nn.Module, token_ids: list[list[int]], pad_id: int, batch_size: int) -> np.ndarray:
    """The last hidden layer pooled as the student pools its own (batching.masked_mean): float32 [N, H],
    in input order, at fp32 on the CPU (a few seconds a thousand texts)."""
    model.float().eval()
    result = np.zeros((len(token_ids), model.config.hidden_size), dtype=np.float32)
    for rows in tqdm(length_sorted_batches(token_ids, batch_size), desc="teacher_hidden train"):
        batch = pad_batch([token_ids[i] for i in rows], pad_id)
        output = model(**batch, output_hidden_states=True)
        result[rows] = masked_mean(output.hidden_states[-1], batch["attention_mask"]).numpy()
    return result


def main() -> None:
    params = load_params()
    examples = read_parquet("data/tokenized/train.parquet")
    hidden = mean_hidden_states(
        load_classifier("./data/teacher"),
        examples["input_ids"].to_pylist(),
        read_json("data/tokenized/vocab.json")["pad_id"],
        positive(params, "teacher.infer_batch_size", int),
    )
    width = hidden.shape[1]
    column = pa.FixedSizeListArray.from_arrays(pa.array(hidden.reshape(-1), pa.float32()), width)
    print(f"teacher_hidden: {len(hidden)} training texts, {width} values each ({hidden.nbytes / 1e6:.1f} MB)")
    with staged_outputs("data/hidden") as out:
        write_parquet(pa.table({"id": examples["id"], "hidden": column}), out / "train.parquet")


if __name__ == "__main__":
    run_stage(main)
