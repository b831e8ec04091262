"""Stage tune_setfit: SetFit, the few-label baseline, its steps and body learning rate chosen on dev.

Runs only when train holds at most `baselines.setfit_max_labels` labels (SetFit is built for few
labels, and its contrastive pairs cost minutes per hundred steps here); otherwise it writes why it
did not run. The body is baselines.setfit_body (`teacher`: teacher.model itself).
Trained on the labels only. Writes data/setfit/metrics.json: every trial's dev figures, the chosen
setting, test accuracy (and task.multi_label_metrics for multi-label), size and speed, timed as every
model is (batched; one text on one thread); and test_predictions.parquet, for compare's paired tests.
"""

import time

import numpy as np
import pyarrow as pa

from distillery.baselines.models import grid, scored_on_test, tune_on_dev
from distillery.baselines.setfit_model import (
    SetFitData,
    fit_head,
    max_labels,
    num_params,
    setfit_body,
    setfit_options,
    train_with_checkpoints,
)
from distillery.core import paths
from distillery.core.errors import run_stage
from distillery.core.files import read_parquet, staged_outputs, write_json, write_parquet
from distillery.core.params import load_params, param
from distillery.core.task import label_array, label_column, read_task
from distillery.evaluation.thresholds import dev_thresholds
from distillery.teacher.files import resolve_model

OUT = paths.SETFIT


def main() -> None:
    params = load_params()
    options, limit, seed = setfit_options(params), max_labels(params), int(param(params, "seed"))
    reference = setfit_body(params)
    splits = {name: read_parquet(paths.prepared(name)) for name in ("train", "dev", "test")}
    labelled = len(splits["train"])
    if limit is None or labelled > limit:
        reason = (
            "baselines.setfit_max_labels is null"
            if limit is None
            else f"train holds {labelled:,} labels, more than baselines.setfit_max_labels ({limit:,})"
        )
        print(f"tune_setfit: not run: {reason}")
        with staged_outputs(OUT) as out:
            write_json({"skipped": reason, "labelled_examples": labelled}, out / "metrics.json")
        return
    body = resolve_model(reference)
    texts = {name: table["text"].to_pylist() for name, table in splits.items()}
    labels = {name: label_array(table["label"]) for name, table in splits.items()}
    data = SetFitData(texts["train"], labels["train"], texts["dev"], labels["dev"])
    task = read_task()

    # One run per learning rate and batch size; the grid's step counts are checkpoints along it.
    steps = sorted(options["max_steps"])
    figures, weights, models = {}, {}, {}
    start = time.perf_counter()
    for run in grid({key: values for key, values in options.items() if key != "max_steps"}):
        lr, batch = run["body_learning_rate"], run["batch_size"]
        print(f"tune_setfit: SetFit on {body}, {labelled} labels, lr {lr:g}, batch {batch}, to step {steps[-1]}")
        at_step, kept, model = train_with_checkpoints(body, data, steps, lr, batch, seed)
        for step in steps:
            figures[(step, lr, batch)], weights[(step, lr, batch)] = at_step[step], kept[step]
        models[(lr, batch)] = model
    train_seconds = time.perf_counter() - start

    def key(setting: dict) -> tuple:
        return setting["max_steps"], setting["body_learning_rate"], setting["batch_size"]

    chosen, trials, dev = tune_on_dev(list(grid(options)), lambda setting: figures[key(setting)])
    model = models[(chosen["body_learning_rate"], chosen["batch_size"])]
    model.model_body.load_state_dict(weights[key(chosen)])
    fit_head(model, data)
    print(f"tune_setfit: chose {chosen} on dev")

    def predict(batch: list[str]) -> np.ndarray:
        return np.asarray(model.predict(batch, as_numpy=True)).astype(np.int64)

    def probabilities(batch: list[str]) -> np.ndarray:
        return np.asarray(model.predict_proba(batch, as_numpy=True))

    names, thresholds = None, None
    if task.multi_label:
        names, thresholds = task.label_names, dev_thresholds(probabilities(texts["dev"]), labels["dev"])

    scored, predicted = scored_on_test(predict, probabilities, texts["test"], labels["test"], names, thresholds)
    print(f"tune_setfit: test accuracy {scored['accuracy']:.4f}")
    with staged_outputs(OUT) as out:
        write_json(
            {
                "accuracy": scored["accuracy"],
                "chosen": chosen,
                "trials": trials,
                "body": reference,
                "params": num_params(model),
                "train_seconds": round(train_seconds, 3),
                "labelled_examples": labelled,
                "examples_per_s": scored["examples_per_s"],
                "latency_ms": scored["latency_ms"],
            }
            | dev
            | ({"multi_label": scored["multi_label"]} if task.multi_label else {}),
            out / "metrics.json",
        )
        predictions = pa.table({"id": splits["test"]["id"], "prediction": label_column(predicted)})
        write_parquet(predictions, out / "test_predictions.parquet")  # for the paired tests in compare


if __name__ == "__main__":
    run_stage(main)
