"""Stage tokenize_texts: token ids from the teacher's tokenizer, shared by teacher and student.

Writes data/tokenized/{train,dev,test}.parquet: id; input_ids (list<int32>, at most
teacher.max_length: what the teacher sees); full_ids (the whole text, up to a safety cap of
FULL_TEXT_CAP ids, for students whose cost is linear in the text: words past the teacher's window
still carry signal); label. Also vocab.json (vocab_size, pad_id, and frame_ids: the special tokens
the tokenizer adds around every text, such as [CLS] and [SEP], which a bag of words may leave out)
and stats.json (per split: texts, mean ids of the whole text, texts truncated for the teacher).
"""

import pyarrow as pa

from distillery.core import paths
from distillery.core.errors import DistilleryError, run_stage
from distillery.core.files import read_parquet, staged_outputs, write_json, write_parquet
from distillery.core.params import load_params, param, positive
from distillery.teacher.tokens import frame_ids, load_tokenizer, max_positions, token_columns


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
    with staged_outputs(paths.TOKENIZED) as out:
        for split in ("train", "dev", "test"):
            prepared = read_parquet(paths.prepared(split))
            input_ids, full_ids, lengths = token_columns(tokenizer, prepared["text"].to_pylist(), max_length)
            stats[split] = {
                "texts": prepared.num_rows,
                "mean_ids": round(float(lengths.mean()), 1),
                "truncated_for_teacher": int((lengths > max_length).sum()),
            }
            print(
                f"tokenize_texts: {split}: {prepared.num_rows} texts, {stats[split]['mean_ids']} tokens on average; "
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
