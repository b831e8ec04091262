"""Stage tune_fasttext: fastText at its best on dev, then scored once on test.

Tries every setting of `baselines.fasttext_grid` (lr, epochs, word n-grams, dim) with the first
seed, trained on train and scored on dev; the dev winner is trained once per student seed and
scored on test. Writes data/fasttext_tuned/metrics.json with every trial's dev accuracy.
"""

import numpy as np

from distillery.baselines.models import (
    fasttext_params,
    fasttext_per_seed,
    fasttext_predict,
    fasttext_tuning,
    grid,
    grid_param,
)
from distillery.core import paths
from distillery.core.errors import run_stage
from distillery.core.files import read_parquet, staged_outputs, write_json
from distillery.core.params import load_params, param, positive
from distillery.core.task import label_array, read_task
from distillery.evaluation.statistics import accuracy_summary
from distillery.evaluation.timing import examples_per_second, median_latency_ms

OUT = paths.FASTTEXT_TUNED


def main() -> None:
    params = load_params()
    options = grid_param(params, "baselines.fasttext_grid", ("lr", "epochs", "word_ngrams", "dim"))
    seed = int(param(params, "seed"))
    seeds = [seed + i for i in range(positive(params, "bag.n_seeds", int))]
    splits = {name: read_parquet(paths.prepared(name)) for name in ("train", "dev", "test")}
    texts = {name: table["text"].to_pylist() for name, table in splits.items()}
    labels = {name: label_array(table["label"]) for name, table in splits.items()}
    names = read_task().label_names if read_task().multi_label else None
    num_labels = len(names) if names else None
    print(f"tune_fasttext: {len(list(grid(options)))} settings on dev")
    chosen, trials, figures = fasttext_tuning(
        texts["train"], labels["train"], texts["dev"], labels["dev"], options, seed
    )
    print(f"tune_fasttext: chose {chosen} on dev")
    split = {name: (texts[name], labels[name]) for name in texts}
    accuracies, train_seconds, model, multi = fasttext_per_seed(
        split["train"], split["dev"], split["test"], seeds, chosen, "tune_fasttext", names
    )
    speed = examples_per_second(lambda: fasttext_predict(model, texts["test"], num_labels), len(texts["test"]))
    latency = median_latency_ms(lambda i: fasttext_predict(model, [texts["test"][i]], num_labels), len(texts["test"]))
    with staged_outputs(OUT) as out:
        write_json(
            accuracy_summary(accuracies)
            | {
                "chosen": chosen,
                "trials": trials,
                "params": fasttext_params(model),
                "train_seconds": round(float(np.mean(train_seconds)), 3),
                "examples_per_s": round(speed, 1),
                "latency_ms": round(latency, 4),
            }
            | figures
            | ({"multi_label": multi} if multi else {}),
            out / "metrics.json",
        )


if __name__ == "__main__":
    run_stage(main)
