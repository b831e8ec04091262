"""Stage tokenize: token ids from the teacher's tokenizer, shared by teacher and student.

(The script is not called tokenize.py: that would shadow Python's own `tokenize` module.)
Writes data/tokenized/{train,dev,test}.parquet (id, input_ids as list<int32>, label) and
vocab.json: vocab_size, pad_id, and frame_ids (the special tokens the tokenizer adds around every
text, such as [CLS] and [SEP], which a bag of words may leave out). Ids are stored unpadded.
"""

import pyarrow as pa

from common import load_params, param, positive, read_parquet, run_stage, staged_outputs, write_json, write_parquet
from teacher import frame_ids, load_tokenizer, tokenize

IN, OUT = "data/prepared", "data/tokenized"


def main() -> None:
    params = load_params()
    model_name = str(param(params, "teacher.model"))
    max_length = positive(params, "teacher.max_length", int)
    tokenizer = load_tokenizer(model_name)

    with staged_outputs(OUT) as out:
        for split in ("train", "dev", "test"):
            prepared = read_parquet(f"{IN}/{split}.parquet")
            token_ids = tokenize(tokenizer, prepared["text"].to_pylist(), max_length)
            lengths = [len(ids) for ids in token_ids]
            print(
                f"tokenize: {split}: {len(token_ids)} texts, {sum(lengths) / len(lengths):.1f} tokens "
                f"on average, {sum(n == max_length for n in lengths)} truncated to {max_length}"
            )
            table = pa.table(
                {
                    "id": prepared["id"],
                    "input_ids": pa.array(token_ids, pa.list_(pa.int32())),
                    "label": prepared["label"],
                }
            )
            write_parquet(table, out / f"{split}.parquet")
        write_json(
            {"vocab_size": len(tokenizer), "pad_id": tokenizer.pad_token_id, "frame_ids": frame_ids(tokenizer)},
            out / "vocab.json",
        )


if __name__ == "__main__":
    run_stage(main)
