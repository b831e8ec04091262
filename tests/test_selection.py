"""Choosing on dev, the project's one rule: every caller (epochs, seeds, transfer shares, baseline settings)
goes through selection.choose_on_dev and so picks the same way."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from distillery.baselines.models import tune_on_dev
from distillery.export.student import best_dev_seed
from distillery.training.loop import fit
from distillery.training.runs import mean_dev
from distillery.training.selection import DevScore, choose_on_dev


def test_the_best_dev_accuracy_wins_and_the_earliest_on_a_tie() -> None:
    scores = [DevScore(0.7, 0.5), DevScore(0.8, 0.9), DevScore(0.8, 0.1)]
    assert choose_on_dev(scores, multi_label=False) == 1


def test_multi_label_chooses_the_lowest_dev_loss_and_the_earliest_on_a_tie() -> None:
    scores = [DevScore(0.9, 0.3), DevScore(0.1, 0.2), DevScore(0.5, 0.2)]
    assert choose_on_dev(scores, multi_label=True) == 1


def test_no_candidates_is_an_error() -> None:
    with pytest.raises(ValueError):
        choose_on_dev([], multi_label=False)


def test_the_loop_keeps_the_first_of_equally_good_epochs_and_stops_after_patience() -> None:
    model = torch.nn.Linear(1, 1)
    dev_accuracy = iter([0.5, 0.7, 0.7, 0.6, 0.9])
    weights = iter(range(10))

    def train_epoch(epoch: int) -> tuple[float, int]:
        model.weight.data.fill_(float(next(weights)))  # the weights of epoch e are e - 1
        return 0.0, 0

    def evaluate(_: torch.nn.Module, split: str) -> tuple[float, float]:
        return (0.0, next(dev_accuracy)) if split == "dev" else (0.0, 1.0)  # test figures never choose

    history, kept, cooldown = fit(model, train_epoch, evaluate, 1, 1, epochs=5, patience=2, desc="test")
    assert kept == 2 and len(history) == 4  # epoch 3 ties epoch 2; epoch 4 ends the patience of 2
    assert model.weight.item() == 1.0 and cooldown is None  # the kept epoch's weights are restored


def test_seeds_shares_and_settings_are_chosen_by_the_same_rule() -> None:
    metrics = {
        "dev_accuracy_per_seed": {"44": 0.8, "42": 0.7, "43": 0.8},
        "dev_loss_per_seed": {"42": 1, "43": 3, "44": 2},
    }
    assert best_dev_seed(metrics, multi_label=False) == "43"  # 43 and 44 tie: the lower seed
    assert best_dev_seed(metrics, multi_label=True) == "42"
    assert mean_dev(metrics) == DevScore(accuracy=round(float(np.mean([0.8, 0.7, 0.8])), 6), loss=2.0)
    settings = [{"C": 1}, {"C": 2}, {"C": 3}]
    chosen, trials, figures = tune_on_dev(settings, lambda s: {"dev_accuracy": 0.9 if s["C"] > 1 else 0.5})
    assert chosen == {"C": 2} and len(trials) == 3 and figures == {"dev_accuracy": 0.9}
    chosen, _, _ = tune_on_dev(settings, lambda s: {"dev_accuracy": 0.5, "dev_bce": abs(s["C"] - 3)})
    assert chosen == {"C": 3}
