"""Stage train_fasttext: the real fastText (C++) on the student's budget: same dim, epochs and lr.

Answers "would plain fastText, given what the student gets, have done as well?". One thread, so a
seed gives one result; once per student seed. Writes data/fasttext/metrics.json. The best fastText
we can find on dev is a stage of its own (tune_fasttext).
"""

import numpy as np

from baselines import fasttext_params, fasttext_per_seed, fasttext_predict
from common import load_params, param, positive, read_json, read_parquet, run_stage, staged_outputs, write_json
from report import accuracy_summary, examples_per_second, median_latency_ms
from task import is_multi_label, label_array

OUT = "data/fasttext"


def main() -> None:
    params = load_params()
    lr, seed = positive(params, "lr"), int(param(params, "seed"))
    dim, epochs = positive(params, "student.dim", int), positive(params, "student.epochs", int)
    seeds = [seed + i for i in range(positive(params, "student.n_seeds", int))]
    train, test = (read_parquet(f"data/prepared/{split}.parquet") for split in ("train", "test"))
    test_texts, test_labels = test["text"].to_pylist(), label_array(test["label"])
    names = read_json("data/prepared/labels.json")["labels"] if is_multi_label(test_labels) else None
    num_labels = len(names) if names else None
    setting = {"dim": dim, "epochs": epochs, "lr": lr, "word_ngrams": 1}
    train_texts, train_labels = train["text"].to_pylist(), label_array(train["label"])
    accuracies, train_seconds, model, multi = fasttext_per_seed(
        train_texts, train_labels, test_texts, test_labels, seeds, setting, "train_fasttext", names
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
