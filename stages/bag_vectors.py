"""Stage bag_vectors: where the bag's word-piece vectors start (students/static_vectors.py).

`bag.model.vectors: random` writes data/bag/vectors/info.json alone: each seed draws its own start, as
fastText does. `static` also writes table.safetensors, float32 [vocabulary, bag.dim], from the model
that `bag.model.tokenizer` names (`teacher`: the teacher as trained), its word pieces counted in the
training texts and the pool. The bag student and its twin start from the same table, so the pair still
differs only in the teacher's logits; `-S lr=...` re-runs neither this stage nor the teacher.
"""

from safetensors.numpy import save_file

from distillery.core.errors import DistilleryError, run_stage
from distillery.core.files import read_json, read_parquet, staged_outputs, write_json
from distillery.core.params import load_params, param, positive
from distillery.students.backbones import backbone, token_tables
from distillery.students.bag_start import VECTORS_DIR
from distillery.students.static_vectors import VECTORS, static_table, token_counts, vector_source
from distillery.teacher.tokens import load_tokenizer


def main() -> None:
    params = load_params()
    vectors, dim, name = param(params, "bag.model.vectors"), positive(params, "bag.dim", int), backbone(params, "bag")
    if vectors not in VECTORS:
        raise DistilleryError(f"params.yaml: 'bag.model.vectors' must be one of {list(VECTORS)}, got {vectors!r}")
    info = {"vectors": vectors, "dim": dim}
    table = None
    if vectors == "static":
        tokens = token_tables("bag")
        vocab_size = read_json(tokens.vocab)["vocab_size"]
        texts = [read_parquet(path)["full_ids"] for path in (tokens.split("train"), tokens.pool)]
        print(f"bag_vectors: encoding the {vocab_size:,} word pieces of {name} one at a time, PCA to {dim}")
        encoder, pooling = vector_source(name)
        table = static_table(
            encoder, pooling, load_tokenizer(tokens.tokenizer_source), token_counts(texts, vocab_size), dim, name
        )
        info |= {"source": name, "pooling": pooling.mode}
    with staged_outputs(VECTORS_DIR) as out:
        write_json(info, out / "info.json")
        if table is not None:
            save_file({"table": table}, str(out / "table.safetensors"))


if __name__ == "__main__":
    run_stage(main)
