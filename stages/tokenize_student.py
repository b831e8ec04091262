"""Stage tokenize_student@ARCH: the token ids of a student whose backbone is not the teacher's.

Reads `transformer.model.init` or `bilstm.model.embeddings` (students/backbones.py). With `teacher`,
writes only data/tokens/ARCH/source.json saying so: the student reads the teacher's ids. With a model
reference, also {train,dev,test}.parquet (id, input_ids cut at teacher.max_length or the model's own
limit, full_ids, label), transfer.parquet and pool.parquet (id, input_ids, full_ids), row for row as
the teacher's tables, and vocab.json, all from that model's tokenizer. The transfer set's masked words
are the teacher's mask token; they become the student's. Changing a backbone re-runs no teacher stage.
"""

import sys

import pyarrow as pa

from distillery.core import paths
from distillery.core.errors import DistilleryError, run_stage
from distillery.core.files import read_parquet, staged_outputs, write_json, write_parquet
from distillery.core.params import load_params, param, positive
from distillery.students.backbones import BACKBONE_PARAMS, SOURCE_FILE, TEACHER, backbone, check_tokenizer
from distillery.teacher.tokens import frame_ids, load_tokenizer, max_positions, token_columns


def main(arguments: list[str]) -> None:
    if len(arguments) != 1 or arguments[0] not in BACKBONE_PARAMS:
        raise DistilleryError(f"usage: tokenize_student.py ARCH, ARCH one of {list(BACKBONE_PARAMS)}")
    arch = arguments[0]
    params = load_params()
    name, param_name = backbone(params, arch), BACKBONE_PARAMS[arch]
    teacher_model, window = str(param(params, "teacher.model")), positive(params, "teacher.max_length", int)
    if name == TEACHER:
        with staged_outputs(paths.student_tokens(arch)) as out:
            write_json({"backbone": TEACHER}, out / SOURCE_FILE)
        print(f"tokenize_student@{arch}: {param_name} is teacher: the student reads the teacher's token ids")
        return
    tokenizer = load_tokenizer(name, param_name)
    check_tokenizer(tokenizer, name, param_name)
    max_length = min(window, max_positions(name, tokenizer, param_name))
    teacher_mask = load_tokenizer(teacher_model).mask_token
    own_mask = tokenizer.mask_token or tokenizer.unk_token
    sources = {split: paths.prepared(split) for split in paths.SPLITS} | {
        "transfer": paths.TRANSFER,
        "pool": paths.POOL,
    }
    with staged_outputs(paths.student_tokens(arch)) as out:
        for source, path in sources.items():
            table = read_parquet(path)
            texts = table["text"].to_pylist()
            if source == "transfer" and teacher_mask and teacher_mask != own_mask:
                texts = [text.replace(teacher_mask, own_mask) for text in texts]
            input_ids, full_ids, lengths = token_columns(tokenizer, texts, max_length)
            columns = {"id": table["id"], "input_ids": input_ids, "full_ids": full_ids}
            if "label" in table.column_names:
                columns["label"] = table["label"]
            write_parquet(pa.table(columns), out / f"{source}.parquet")
            mean = float(lengths.mean()) if len(lengths) else 0.0
            print(f"tokenize_student@{arch}: {source}: {table.num_rows} texts, {mean:.1f} tokens on average ({name})")
        write_json(
            {"vocab_size": len(tokenizer), "pad_id": tokenizer.pad_token_id, "frame_ids": frame_ids(tokenizer)},
            out / "vocab.json",
        )
        write_json({"backbone": name, "max_length": max_length}, out / SOURCE_FILE)


if __name__ == "__main__":
    run_stage(lambda: main(sys.argv[1:]))
