"""Stage teacher_logits: score every split with the teacher once; DVC caches the result.

Writes data/logits/<split>.parquet: id, logit_0 .. logit_{C-1} (float32), teacher_pred.
"""

import pyarrow as pa

from common import load_params, param, positive, read_json, read_parquet, run_stage, staged_outputs, write_parquet
from teacher import is_main_process, load_classifier, predict_logits

TEACHER, OUT = "data/teacher", "data/logits"


def logits_table(ids: pa.Array, logits) -> pa.Table:
    columns = {"id": ids}
    for c in range(logits.shape[1]):
        columns[f"logit_{c}"] = pa.array(logits[:, c], pa.float32())
    columns["teacher_pred"] = pa.array(logits.argmax(axis=1), pa.int64())
    return pa.table(columns)


def main() -> None:
    params = load_params()
    batch_size = positive(params, "teacher.infer_batch_size", int)
    device = str(param(params, "teacher.device"))
    pad_id = read_json("data/tokenized/vocab.json")["pad_id"]
    model = load_classifier(f"./{TEACHER}")

    tables = {}
    for split in ("train", "test"):
        tokenized = read_parquet(f"data/tokenized/{split}.parquet")
        token_ids = tokenized["input_ids"].to_pylist()
        logits = predict_logits(model, token_ids, pad_id, batch_size, device, progress=f"teacher_logits {split}")
        table = logits_table(tokenized["id"], logits)
        accuracy = (table["teacher_pred"].to_numpy() == tokenized["label"].to_numpy()).mean()
        print(f"teacher_logits: {split}: {len(logits)} examples, teacher accuracy {accuracy:.4f}")
        tables[split] = table
    if is_main_process():
        with staged_outputs(OUT) as out:
            for split, table in tables.items():
                write_parquet(table, out / f"{split}.parquet")


if __name__ == "__main__":
    run_stage(main)
