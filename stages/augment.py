"""Stage augment: the transfer set (Tang et al. 2019) derived from the training texts.

Writes data/augmented/transfer.parquet: id, text, input_ids (the teacher's tokenizer). It has no
labels; transfer_logits has the teacher label it, and only the distilled student trains on it.
"""

import pyarrow as pa

from distillery.core import paths
from distillery.core.errors import DistilleryError, run_stage
from distillery.core.files import read_parquet, staged_outputs, write_parquet
from distillery.core.params import fraction, load_params, param, positive
from distillery.corpus.dataset import example_id
from distillery.corpus.transfer_set import transfer_set
from distillery.teacher.tokens import load_tokenizer, tokenize


def main() -> None:
    params = load_params()
    seed = int(param(params, "seed"))
    p_mask = fraction(params, "augment.p_mask", low_open=False)
    p_pos = fraction(params, "augment.p_pos", low_open=False)
    p_ng = fraction(params, "augment.p_ng", low_open=False)
    if p_mask + p_pos > 1:
        raise DistilleryError(f"params.yaml: augment.p_mask + augment.p_pos must be <= 1, got {p_mask + p_pos}")
    n_iter = param(params, "augment.n_iter")
    if isinstance(n_iter, bool) or not isinstance(n_iter, int) or n_iter < 0:
        raise DistilleryError(f"params.yaml: 'augment.n_iter' must be a whole number >= 0, got {n_iter!r}")
    tokenizer = load_tokenizer(str(param(params, "teacher.model")))
    max_length = positive(params, "teacher.max_length", int)

    train = read_parquet(paths.prepared("train"))["text"].to_pylist()
    # Texts of dev and test (never their labels) are kept out, so no evaluated text is trained on.
    held_out = [text for split in ("dev", "test") for text in read_parquet(paths.prepared(split))["text"].to_pylist()]
    print(
        f"augment: tagging {len(train)} training texts, then {n_iter} samples each "
        f"(p_mask {p_mask}, p_pos {p_pos}, p_ng {p_ng})"
    )
    texts = transfer_set(train, held_out, seed, tokenizer.mask_token, p_mask, p_pos, p_ng, n_iter) if n_iter else []
    print(f"augment: {len(texts)} new texts after dropping duplicates and texts of the train/dev/test sets")
    table = pa.table(
        {
            "id": pa.array([example_id(text) for text in texts], pa.string()),
            "text": pa.array(texts, pa.string()),
            "input_ids": pa.array(tokenize(tokenizer, texts, max_length) if texts else [], pa.list_(pa.int32())),
        }
    )
    with staged_outputs(paths.AUGMENTED) as out:
        write_parquet(table, out / "transfer.parquet")


if __name__ == "__main__":
    run_stage(main)
