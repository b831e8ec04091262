"""Stage tune_sklearn: TF-IDF or NB-weighted n-grams with logistic regression, chosen on dev.

Tries every setting of `baselines.sklearn_grid` (features tfidf|nb, n-gram length, C), trained on
train and scored on dev; the dev winner is scored once on test. Deterministic, so one run.
Writes data/sklearn/metrics.json with every trial's dev accuracy.
"""

import time

import numpy as np

from baselines import LinearTextModel, choose_on_dev, grid, grid_param
from common import DistilleryError, load_params, read_parquet, run_stage, staged_outputs, write_json
from report import examples_per_second, median_latency_ms

OUT = "data/sklearn"


def main() -> None:
    params = load_params()
    options = grid_param(params, "baselines.sklearn_grid", ("features", "ngrams", "C"))
    bad = [value for value in options["features"] if value not in ("tfidf", "nb")]
    if bad:
        raise DistilleryError(f"params.yaml: 'baselines.sklearn_grid.features' takes tfidf and nb, got {bad}")
    splits = {name: read_parquet(f"data/prepared/{name}.parquet") for name in ("train", "dev", "test")}
    texts = {name: table["text"].to_pylist() for name, table in splits.items()}
    labels = {name: table["label"].to_numpy() for name, table in splits.items()}

    def dev_accuracy(setting: dict) -> float:
        model = LinearTextModel(**setting).fit(texts["train"], labels["train"])
        return float(np.mean(model.predict(texts["dev"]) == labels["dev"]))

    candidates = list(grid(options))
    print(f"tune_sklearn: {len(candidates)} settings on dev")
    chosen, trials = choose_on_dev(candidates, dev_accuracy)
    print(f"tune_sklearn: chose {chosen} on dev")
    start = time.perf_counter()
    model = LinearTextModel(**chosen).fit(texts["train"], labels["train"])
    train_seconds = time.perf_counter() - start
    accuracy = float(np.mean(model.predict(texts["test"]) == labels["test"]))
    print(f"tune_sklearn: test accuracy {accuracy:.4f}")
    speed = examples_per_second(lambda: model.predict(texts["test"]), len(texts["test"]))
    latency = median_latency_ms(lambda i: model.predict([texts["test"][i]]), len(texts["test"]))
    with staged_outputs(OUT) as out:
        write_json(
            {
                "accuracy": round(accuracy, 6),
                "chosen": chosen,
                "dev_accuracy": max(trial["dev_accuracy"] for trial in trials),
                "trials": trials,
                "params": model.num_params(),
                "train_seconds": round(train_seconds, 3),
                "examples_per_s": round(speed, 1),
                "latency_ms": round(latency, 4),
            },
            out / "metrics.json",
        )


if __name__ == "__main__":
    run_stage(main)
