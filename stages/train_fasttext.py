"""Stage train_fasttext: the real fastText (C++) on the student's budget: same dim, epochs and lr.

Answers "would plain fastText, given what the student gets, have done as well?". One thread, so a
seed gives one result; once per student seed. Writes data/fasttext/metrics.json. The best fastText
we can find on dev is a stage of its own (tune_fasttext).
"""

import tempfile
import time
from pathlib import Path

import numpy as np

from baselines import FastTextData, fasttext_params, fasttext_predict, train_fasttext
from common import load_params, param, positive, read_parquet, run_stage, staged_outputs, write_json
from report import accuracy_summary, examples_per_second

OUT = "data/fasttext"


def main() -> None:
    params = load_params()
    lr, seed = positive(params, "lr"), int(param(params, "seed"))
    dim, epochs = positive(params, "student.dim", int), positive(params, "student.epochs", int)
    seeds = [seed + i for i in range(positive(params, "student.n_seeds", int))]
    train, test = (read_parquet(f"data/prepared/{split}.parquet") for split in ("train", "test"))
    test_texts, test_labels = test["text"].to_pylist(), test["label"].to_numpy()
    accuracies, train_seconds = {}, []
    with tempfile.TemporaryDirectory() as scratch:
        data = FastTextData(train["text"].to_pylist(), train["label"].to_numpy(), Path(scratch))
        for s in seeds:
            start = time.perf_counter()
            model = train_fasttext(data, dim=dim, epochs=epochs, lr=lr, word_ngrams=1, seed=s)
            train_seconds.append(time.perf_counter() - start)
            accuracies[s] = float(np.mean(fasttext_predict(model, test_texts) == test_labels))
            print(f"train_fasttext: seed {s}: test accuracy {accuracies[s]:.4f}, trained in {train_seconds[-1]:.2f} s")
    speed = examples_per_second(lambda: fasttext_predict(model, test_texts), len(test_texts))
    with staged_outputs(OUT) as out:
        write_json(
            accuracy_summary(accuracies)
            | {
                "params": fasttext_params(model),
                "settings": {"dim": dim, "epochs": epochs, "lr": lr, "word_ngrams": 1},
                "train_seconds": round(float(np.mean(train_seconds)), 3),
                "examples_per_s": round(speed, 1),
            },
            out / "metrics.json",
        )


if __name__ == "__main__":
    run_stage(main)
