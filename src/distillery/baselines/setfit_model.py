"""SetFit (Tunstall et al. 2022), the baseline few-label users reach for: contrastive fine-tuning of a
sentence transformer on pairs drawn from the labels, then a logistic-regression head on its embeddings.

The `setfit` library does the work. What is ours is choosing its steps and body learning rate on dev:
one run per learning rate, to the largest step count of the grid, with the head fitted and scored on
dev at every step count the grid names (a checkpoint of that run, whose linear decay ends at the
largest count). The best checkpoint's body is kept.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from typing import Any

import numpy as np

from distillery.baselines.models import dev_figures, grid_param
from distillery.core.errors import DistilleryError
from distillery.core.params import param
from distillery.core.task import is_multi_label

GRID_KEYS = ("max_steps", "body_learning_rate", "batch_size")


def setfit_options(params: dict) -> dict[str, list]:
    """baselines.setfit_grid: step counts and batch sizes (whole numbers >= 1), body learning rates (> 0)."""
    options = grid_param(params, "baselines.setfit_grid", GRID_KEYS)
    for key in ("max_steps", "batch_size"):
        if any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in options[key]):
            raise DistilleryError(
                f"params.yaml: 'baselines.setfit_grid.{key}' takes whole numbers >= 1, got {options[key]}"
            )
    rates = options["body_learning_rate"]
    if any(isinstance(v, bool) or not isinstance(v, int | float) or v <= 0 for v in rates):
        raise DistilleryError(f"params.yaml: 'baselines.setfit_grid.body_learning_rate' takes numbers > 0, got {rates}")
    return options


def max_labels(params: dict) -> int | None:
    """baselines.setfit_max_labels: SetFit runs when train holds at most this many labels (null: never)."""
    value = param(params, "baselines.setfit_max_labels")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise DistilleryError(
            f"params.yaml: 'baselines.setfit_max_labels' must be a whole number of labels or null (never run), "
            f"got {value!r}"
        )
    return value


def setfit_body(params: dict) -> str:
    """baselines.setfit_body: a model reference, or `teacher` for teacher.model itself. The default is a
    small body, the students' size: SetFit on a BERT-base body costs hours of contrastive steps here."""
    body, teacher = str(param(params, "baselines.setfit_body")), str(param(params, "teacher.model"))
    return teacher if body == "teacher" else body


@dataclass(frozen=True)
class SetFitData:
    """The labelled texts SetFit sees: train (for pairs and the head) and dev (for choosing)."""

    train_texts: list[str]
    train_labels: np.ndarray  # class ids, or [N, L] of 0/1
    dev_texts: list[str]
    dev_labels: np.ndarray


def load_setfit(body: str, multi_label: bool) -> Any:
    """A SetFitModel over `body` (a local folder); a plain encoder gets sentence-transformers' mean pooling."""
    from setfit import SetFitModel

    return SetFitModel.from_pretrained(body, multi_target_strategy="one-vs-rest" if multi_label else None)


def num_params(model: Any) -> int:
    """The body's parameters and the head's (one logistic regression, or one per label)."""
    head = model.model_head
    estimators = getattr(head, "estimators_", [head])
    head_params = sum(estimator.coef_.size + estimator.intercept_.size for estimator in estimators)
    return int(sum(p.numel() for p in model.model_body.parameters()) + head_params)


def fit_head(model: Any, data: SetFitData) -> None:
    """SetFit's classifier phase: the body frozen, the logistic regression fitted on its train embeddings."""
    model.fit(data.train_texts, data.train_labels.tolist(), num_epochs=1, show_progress_bar=False)


def score_on_dev(model: Any, data: SetFitData) -> dict:
    """dev_figures of the current body with a freshly fitted head (dev BCE too, for multi-label)."""
    fit_head(model, data)
    predicted = np.asarray(model.predict(data.dev_texts, as_numpy=True))
    probabilities = None
    if is_multi_label(data.dev_labels):
        probabilities = np.asarray(model.predict_proba(data.dev_texts, as_numpy=True))
    return dev_figures(data.dev_labels, predicted, probabilities)


def train_with_checkpoints(
    body: str, data: SetFitData, steps: list[int], body_lr: float, batch_size: int, seed: int
) -> tuple[dict[int, dict], dict[int, dict], Any]:
    """One SetFit run to max(steps) at `body_lr`. Returns the dev figures at each step count, the body's
    weights there (CPU copies), and the model (its body as at the last step)."""
    from datasets import Dataset
    from setfit import Trainer, TrainingArguments
    from transformers import TrainerCallback

    model = load_setfit(body, is_multi_label(data.train_labels))
    figures: dict[int, dict] = {}
    weights: dict[int, dict] = {}

    class DevCheckpoints(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if state.global_step in steps:
                figures[state.global_step] = score_on_dev(model, data)
                weights[state.global_step] = {k: v.detach().clone() for k, v in model.model_body.state_dict().items()}
                print(f"tune_setfit: lr {body_lr:g}, step {state.global_step}: dev {figures[state.global_step]}")

    with tempfile.TemporaryDirectory() as scratch:
        args = TrainingArguments(
            output_dir=scratch,
            batch_size=batch_size,
            num_epochs=1,
            max_steps=max(steps),
            body_learning_rate=body_lr,
            seed=seed,
            report_to="none",
            save_strategy="no",
            logging_strategy="no",
        )
        train = Dataset.from_dict({"text": data.train_texts, "label": data.train_labels.tolist()})
        trainer = Trainer(model=model, args=args, train_dataset=train, callbacks=[DevCheckpoints()])
        trainer.train_embeddings(data.train_texts, data.train_labels.tolist(), args=args)
    return figures, weights, model
