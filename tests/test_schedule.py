"""The rate of the teacher and of the students that read word order: warm up, hold while dev improves, cool down."""

from __future__ import annotations

import pytest
import torch

from distillery.training.loop import fit
from distillery.training.schedule import cooldown_steps, cooling, held, warmup_steps


def test_the_rate_warms_up_holds_and_cools_down_to_zero() -> None:
    assert [held(1.0, 4)(step) for step in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert held(0.1, 0)(0) == 0.1
    assert [cooling(1.0, 4)(step) for step in range(5)] == [1.0, 0.75, 0.5, 0.25, 0.0]
    # The warmup is a share of one epoch, or of min_steps where those are more: never of the ceiling.
    assert warmup_steps(0.1, 300, 287) == 30 and warmup_steps(0.1, 0, 1000) == 100 and warmup_steps(0.0, 300, 5) == 0
    assert cooldown_steps(0.2, 287) == 58 and cooldown_steps(0.0, 287) == 0


def linear_model_run(cooled_dev: float) -> tuple[torch.nn.Linear, dict, list[dict]]:
    """fit on a 1-weight model whose weight after epoch e is e and whose dev accuracy is looked up from it; the
    cooldown sets the weight to 10, scored `cooled_dev`. Returns the model, the cooldown and what it was given."""
    model = torch.nn.Linear(1, 1, bias=False)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    dev = {1.0: 0.5, 2.0: 0.8, 3.0: 0.7, 4.0: 0.6, 10.0: cooled_dev}
    given = []

    def train_epoch(epoch: int) -> tuple[float, int]:
        model.weight.grad = torch.full_like(model.weight, float(epoch))
        optimizer.step()  # the momentum buffer after epoch e records e
        model.weight.data.fill_(float(epoch))
        return 0.0, 0

    def cool_down(kept_epoch: int) -> int:
        given.append({"epoch": kept_epoch, "weight": model.weight.item()})
        given[-1]["momentum"] = optimizer.state[model.weight]["momentum_buffer"].clone()
        model.weight.data.fill_(10.0)
        return 7

    def evaluate(model: torch.nn.Module, split: str) -> tuple[float, float]:
        return (0.0, dev[model.weight.item()]) if split == "dev" else (0.0, 0.0)

    history, kept, cooldown = fit(
        model, train_epoch, evaluate, 1, 1, 5, 2, "toy", optimizer=optimizer, cool_down=cool_down
    )
    assert len(history) == 4 and kept == 2  # epochs 3 and 4 end the patience of 2
    return model, cooldown, given


@pytest.mark.parametrize("cooled_dev", [0.9, 0.8, 0.6])
def test_the_kept_epoch_cools_down_and_dev_chooses_whether_to_keep_it(cooled_dev: float) -> None:
    model, cooldown, given = linear_model_run(cooled_dev)
    # The cooldown starts from the kept epoch's weights and the optimizer's state at that epoch.
    assert given[0]["epoch"] == 2 and given[0]["weight"] == 2.0
    assert given[0]["momentum"].item() == pytest.approx(2 + 0.9 * 1)  # epoch 2's buffer, not epoch 4's
    assert cooldown["steps"] == 7 and cooldown["dev_acc"] == cooled_dev
    better = cooled_dev > 0.8  # a tie keeps the weights that trained fewer steps
    assert cooldown["kept"] is better
    assert model.weight.item() == (10.0 if better else 2.0)
