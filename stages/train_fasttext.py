"""Stage train_fasttext: the real fastText (C++) on the student's budget: same dim, epochs and lr.

Answers "would plain fastText, given what the student gets, have done as well?". One thread, so a
seed gives one result; once per student seed. Writes data/fasttext/metrics.json. The best fastText
we can find on dev is a stage of its own (tune_fasttext).
"""

import numpy as np

from distillery.baselines.models import fasttext_params, fasttext_per_seed, fasttext_predict
from distillery.core import paths
from distillery.core.errors import run_stage
from distillery.core.files import read_parquet, staged_outputs, write_json
from distillery.core.params import load_params, param, positive
from distillery.core.task import label_array, read_task
from distillery.evaluation.statistics import accuracy_summary
from distillery.evaluation.timing import examples_per_second, median_latency_ms

OUT = paths.FASTTEXT


def main() -> None:
    params = load_params()
    lr, seed = positive(params, "lr"), int(param(params, "seed"))
    dim, epochs = positive(params, "bag.dim", int), positive(params, "bag.epochs", int)
    seeds = [seed + i for i in range(positive(params, "bag.n_seeds", int))]
    split = {name: read_parquet(paths.prepared(name)) for name in ("train", "dev", "test")}
    split = {name: (table["text"].to_pylist(), label_array(table["label"])) for name, table in split.items()}
    test_texts = split["test"][0]
    names = read_task().label_names if read_task().multi_label else None
    num_labels = len(names) if names else None
    setting = {"dim": dim, "epochs": epochs, "lr": lr, "word_ngrams": 1}
    accuracies, train_seconds, model, multi = fasttext_per_seed(
        split["train"], split["dev"], split["test"], seeds, setting, "train_fasttext", names
    )
    speed = examples_per_second(lambda: fasttext_predict(model, test_texts, num_labels), len(test_texts))
    latency = median_latency_ms(lambda i: fasttext_predict(model, [test_texts[i]], num_labels), len(test_texts))
    with staged_outputs(OUT) as out:
        write_json(
            accuracy_summary(accuracies)
            | {
                "params": fasttext_params(model),
                "settings": setting,
                "train_seconds": round(float(np.mean(train_seconds)), 3),
                "examples_per_s": round(speed, 1),
                "latency_ms": round(latency, 4),
            }
            | ({"multi_label": multi} if multi else {}),
            out / "metrics.json",
        )


if __name__ == "__main__":
    run_stage(main)
