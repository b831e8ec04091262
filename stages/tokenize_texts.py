"""Stage tokenize: token ids from the teacher's tokenizer, shared by teacher and student.

(The script is not called tokenize.py: that would shadow Python's own `tokenize` module.)
Writes data/tokenized/{train,dev,test}.parquet: id; input_ids (list<int32>, at most
teacher.max_length: what the teacher sees); full_ids (the whole text, up to a safety cap of
FULL_TEXT_CAP ids, for students whose cost is linear in the text: words past the teacher's window
still carry signal); label. Also vocab.json (vocab_size, pad_id, and frame_ids: the special tokens
the tokenizer adds around every text, such as [CLS] and [SEP], which a bag of words may leave out)
and stats.json (per split: texts, mean ids of the whole text, texts truncated for the teacher).
"""

from typing import Any

import numpy as np
import pyarrow as pa

from common import (
    DistilleryError,
    load_params,
    param,
    positive,
    read_parquet,
    run_stage,
    staged_outputs,
    write_json,
    write_parquet,
)
from teacher import frame_ids, load_tokenizer, max_positions, tokenize

IN, OUT = "data/prepared", "data/tokenized"
FULL_TEXT_CAP = 16_384
TOKENIZE_BATCH = 10_000


def token_columns(
    tokenizer: Any, texts: list[str], max_length: int
) -> tuple[pa.ChunkedArray, pa.ChunkedArray, np.ndarray]:
    """input_ids (cut at max_length) and full_ids as int32 Arrow lists, and each text's full length.

    A batch at a time, so Python's lists of ids (about 30 bytes an id, against Arrow's 4) never
    hold more than one batch.
    """
    input_ids, full_ids, lengths = [], [], []
    for start in range(0, len(texts), TOKENIZE_BATCH):
        batch = texts[start : start + TOKENIZE_BATCH]
        full = tokenize(tokenizer, batch, FULL_TEXT_CAP)
        batch_lengths = [len(ids) for ids in full]
        # Tokenized again rather than cut, so the tokenizer closes each truncated text its own way.
        cut = tokenize(tokenizer, batch, max_length) if max(batch_lengths) > max_length else full
        input_ids.append(pa.array(cut, pa.list_(pa.int32())))
        full_ids.append(pa.array(full, pa.list_(pa.int32())))
        lengths += batch_lengths
    int_lists = pa.list_(pa.int32())
    return pa.chunked_array(input_ids, int_lists), pa.chunked_array(full_ids, int_lists), np.array(lengths)


def main() -> None:
    params = load_params()
    model_name = str(param(params, "teacher.model"))
    max_length = positive(params, "teacher.max_length", int)
    tokenizer = load_tokenizer(model_name)
    limit = max_positions(model_name, tokenizer)
    if max_length > limit:
        raise DistilleryError(
            f"params.yaml: 'teacher.max_length' is {max_length} but {model_name} reads at most {limit} tokens; "
            f"set teacher.max_length to {limit} or less"
        )

    stats = {}
    with staged_outputs(OUT) as out:
        for split in ("train", "dev", "test"):
            prepared = read_parquet(f"{IN}/{split}.parquet")
            input_ids, full_ids, lengths = token_columns(tokenizer, prepared["text"].to_pylist(), max_length)
            stats[split] = {
                "texts": prepared.num_rows,
                "mean_ids": round(float(lengths.mean()), 1),
                "truncated_for_teacher": int((lengths > max_length).sum()),
            }
            print(
                f"tokenize: {split}: {prepared.num_rows} texts, {stats[split]['mean_ids']} tokens on average; "
                f"{stats[split]['truncated_for_teacher']} longer than teacher.max_length {max_length} are truncated "
                "for the teacher (students read the whole text)"
            )
            table = pa.table(
                {
                    "id": prepared["id"],
                    "input_ids": input_ids,
                    "full_ids": full_ids,
                    "label": prepared["label"],
                }
            )
            write_parquet(table, out / f"{split}.parquet")
        write_json(
            {"vocab_size": len(tokenizer), "pad_id": tokenizer.pad_token_id, "frame_ids": frame_ids(tokenizer)},
            out / "vocab.json",
        )
        write_json(stats | {"teacher_max_length": max_length}, out / "stats.json")


if __name__ == "__main__":
    run_stage(main)
