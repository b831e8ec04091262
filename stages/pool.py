"""Stage pool: the unlabelled texts the teacher labels for the students (data.unlabelled, and the
training rows whose labels data.train_labels dropped), cleaned, de-duplicated and tokenized.

Writes data/pool/pool.parquet (id, text, input_ids, full_ids: as tokenize_texts writes them) and
data/pool/stats.json (what was read and dropped). With no unlabelled texts the table has no rows.
"""

import pyarrow as pa

from distillery.core import paths
from distillery.core.errors import run_stage
from distillery.core.files import read_parquet, staged_outputs, write_json, write_parquet
from distillery.core.params import load_params, param, positive
from distillery.corpus.dataset import example_id
from distillery.corpus.pool import build_pool
from distillery.corpus.settings import PoolSettings
from distillery.teacher.tokens import load_tokenizer, token_columns


def main() -> None:
    params = load_params()
    settings = PoolSettings.from_params(params)
    tokenizer = load_tokenizer(str(param(params, "teacher.model")))
    max_length = positive(params, "teacher.max_length", int)
    labelled = [text for split in paths.SPLITS for text in read_parquet(paths.prepared(split))["text"].to_pylist()]
    moved = read_parquet(paths.UNLABELLED)["text"].to_pylist()
    print(f"pool: reading {settings.source} (columns {settings.text_columns}) and {len(moved)} rows without labels")
    pool = build_pool(settings, labelled, moved)
    report = pool.report
    print(
        f"pool: {report['texts']} unlabelled texts ({len(report['files'])} file(s), {report['rows_read']} rows read; "
        f"dropped {report['dropped_empty']} empty, {report['dropped_texts_of_train_dev_test']} texts of "
        f"train/dev/test, {report['dropped_repeats']} repeats; {report['from_train_labels']} from data.train_labels)"
    )
    input_ids, full_ids, _ = token_columns(tokenizer, pool.texts, max_length)
    table = pa.table(
        {
            "id": pa.array([example_id(text) for text in pool.texts], pa.string()),
            "text": pa.array(pool.texts, pa.string()),
            "input_ids": input_ids,
            "full_ids": full_ids,
        }
    )
    with staged_outputs(paths.POOL_DIR) as out:
        write_parquet(table, out / paths.POOL.name)
        write_json(report, out / paths.POOL_STATS.name)


if __name__ == "__main__":
    run_stage(main)
