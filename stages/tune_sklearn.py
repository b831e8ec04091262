"""Stage tune_sklearn: TF-IDF or NB-weighted n-grams with logistic regression, chosen on dev.

Tries every setting of `baselines.sklearn_grid` (features tfidf|nb, n-gram length, C), trained on
train and scored on dev; the dev winner is scored once on test. Deterministic, so one run.
Writes data/sklearn/metrics.json with every trial's dev accuracy (and dev BCE, which chooses, for
multi-label; then the test figures of task.multi_label_metrics too, at label thresholds chosen on dev).
"""

import time

from distillery.baselines.models import LinearTextModel, dev_figures, grid, grid_param, scored_on_test, tune_on_dev
from distillery.core import paths
from distillery.core.errors import DistilleryError, run_stage
from distillery.core.files import read_parquet, staged_outputs, write_json
from distillery.core.params import load_params
from distillery.core.task import label_array, read_task
from distillery.evaluation.thresholds import dev_thresholds

OUT = paths.SKLEARN


def main() -> None:
    params = load_params()
    options = grid_param(params, "baselines.sklearn_grid", ("features", "ngrams", "C"))
    bad = [value for value in options["features"] if value not in ("tfidf", "nb")]
    if bad:
        raise DistilleryError(f"params.yaml: 'baselines.sklearn_grid.features' takes tfidf and nb, got {bad}")
    splits = {name: read_parquet(paths.prepared(name)) for name in ("train", "dev", "test")}
    texts = {name: table["text"].to_pylist() for name, table in splits.items()}
    labels = {name: label_array(table["label"]) for name, table in splits.items()}
    multi_label = read_task().multi_label

    def on_dev(setting: dict) -> dict:
        model = LinearTextModel(**setting).fit(texts["train"], labels["train"])
        probabilities = model.probabilities(texts["dev"]) if multi_label else None
        return dev_figures(labels["dev"], model.predict(texts["dev"]), probabilities)

    candidates = list(grid(options))
    print(f"tune_sklearn: {len(candidates)} settings on dev")
    chosen, trials, figures = tune_on_dev(candidates, on_dev)
    print(f"tune_sklearn: chose {chosen} on dev")
    start = time.perf_counter()
    model = LinearTextModel(**chosen).fit(texts["train"], labels["train"])
    train_seconds = time.perf_counter() - start
    names, thresholds = None, None
    if multi_label:
        names, thresholds = read_task().label_names, dev_thresholds(model.probabilities(texts["dev"]), labels["dev"])
    scored, _ = scored_on_test(model.predict, model.probabilities, texts["test"], labels["test"], names, thresholds)
    print(f"tune_sklearn: test accuracy {scored['accuracy']:.4f}")
    with staged_outputs(OUT) as out:
        write_json(
            {
                "accuracy": scored["accuracy"],
                "chosen": chosen,
                "trials": trials,
                "params": model.num_params(),
                "train_seconds": round(train_seconds, 3),
                "examples_per_s": scored["examples_per_s"],
                "latency_ms": scored["latency_ms"],
            }
            | figures
            | ({"multi_label": scored["multi_label"]} if multi_label else {}),
            out / "metrics.json",
        )


if __name__ == "__main__":
    run_stage(main)
