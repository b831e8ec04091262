"""The bag student: its model, the compiled SGD kernel against the shared torch loop, and training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch

from distillery.students.bag import (
    RECIPES,
    BagOfEmbeddings,
    Packed,
    Settings,
    Split,
    evaluate,
    load_student,
    predict,
    save_student,
    train,
)
from distillery.students.bag_kernel import LOSS_KINDS, sgd_epoch
from distillery.training.loop import Examples, torch_epoch
from distillery.training.losses import Loss


def packed(rows: list[list[int]], skip_ids: tuple[int, ...] = ()) -> Packed:
    return Packed(pa.chunked_array([pa.array(rows, pa.list_(pa.int32()))]), skip_ids)


def test_recipes_initialise_as_their_sources_do() -> None:
    seed000 = BagOfEmbeddings(vocab_size=1000, dim=50, num_classes=3, init=RECIPES["seed000"].init)
    assert seed000.embedding.weight.min() >= 0 and seed000.embedding.weight.max() < 1 / 50
    fasttext = BagOfEmbeddings(vocab_size=1000, dim=50, num_classes=3, init=RECIPES["fasttext"].init)
    assert fasttext.embedding.weight.min() < -0.9 / 50 and fasttext.embedding.weight.max() > 0.9 / 50
    for model in (seed000, fasttext):
        assert torch.count_nonzero(model.output.weight) == 0


def test_mean_is_over_kept_tokens_only() -> None:
    model = BagOfEmbeddings(vocab_size=10, dim=4, num_classes=2, skip_ids=(0, 9))
    data = model.pack(pa.chunked_array([pa.array([[0, 1, 2, 3, 9], [0, 4, 9]], pa.list_(pa.int32()))]))
    assert data.flat.tolist() == [1, 2, 3, 4] and data.starts.tolist() == [0, 3, 4]
    bags = model.embedding(*data.batch(np.array([0, 1])))
    assert torch.allclose(bags[0], model.embedding.weight[[1, 2, 3]].mean(0))
    assert torch.allclose(bags[1], model.embedding.weight[4])


def torch_loop_epoch(model, data, order, batch_size, targets, labels, loss, lr_first, lr_last, clip) -> None:
    """The same epoch through the loop every other student trains with (training.torch_epoch), plain SGD."""
    batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    examples = Examples(lambda rows: data.batch(rows), labels, targets)
    return torch_epoch(
        model,
        examples,
        batches,
        loss,
        torch.optim.SGD(model.parameters(), lr=lr_first),
        lambda b: lr_first + (lr_last - lr_first) * b / max(len(batches) - 1, 1),
        grad_clip=clip,
        clipped=[model.embedding.weight],  # the kernel bounds the embedding's gradient only
    )


@pytest.mark.parametrize(
    ("loss", "batch_size", "clip", "lr_last", "multi_label"),
    [
        (Loss("kl", 2.0, 0.0), 1, 1.0, 0.5, False),  # seed 000's step schedule: constant within an epoch
        (Loss("kl", 2.0, 0.3), 1, 0.0, 0.0, False),  # fastText's linear decay, no clipping
        (Loss("mse", 1.0, 0.5), 3, 0.05, 0.2, False),  # a clip that bites on every step
        (Loss("ce"), 4, 0.0, 0.1, False),
        (Loss("kl", 3.0, 1.0), 2, 1.0, 0.5, False),
        (Loss("kl", 2.0, 0.3), 1, 0.0, 0.0, True),  # multi-label: binary distillation plus alpha * BCE
        (Loss("ce"), 4, 1.0, 0.1, True),  # multi-label twin: BCE only
        (Loss("mse", 1.0, 0.5), 2, 0.0, 0.2, True),
    ],
)
def test_kernel_steps_like_the_torch_loop(
    loss: Loss, batch_size: int, clip: float, lr_last: float, multi_label: bool
) -> None:
    rng = np.random.default_rng(0)
    rows = [rng.integers(0, 30, rng.integers(1, 7)).tolist() for _ in range(100 * batch_size)]
    rows[3] = []  # an empty bag (a text of special tokens only) contributes no embedding gradient
    data = packed(rows)
    targets = rng.normal(size=(len(rows), 3)) * 3
    labels = rng.integers(0, 2, (len(rows), 3)) if multi_label else rng.integers(0, 3, len(rows))
    labels[::3] = -1  # transfer-set rows: no label
    torch.manual_seed(0)
    model = BagOfEmbeddings(30, 8, 3)
    torch.nn.init.normal_(model.output.weight, std=0.5)
    reference = BagOfEmbeddings(30, 8, 3)
    reference.load_state_dict(model.state_dict())
    order = rng.permutation(len(rows))

    embedding, weight, bias = (p.detach().numpy() for p in model.parameters())
    kernel_labels = labels if multi_label else labels[:, None]
    _, kernel_right = sgd_epoch(
        embedding, weight, bias, data.flat, data.starts, order, batch_size, targets, kernel_labels, multi_label,
        LOSS_KINDS[loss.kind], loss.temperature, loss.alpha, 0.5, lr_last, clip,
    )  # fmt: skip
    _, torch_right = torch_loop_epoch(
        reference, data, order, batch_size, targets.astype(np.float32), labels, loss, 0.5, lr_last, clip
    )
    assert kernel_right == torch_right
    for name, tensor in reference.state_dict().items():
        torch.testing.assert_close(model.state_dict()[name], tensor, rtol=1e-4, atol=1e-5, msg=name)
    assert not torch.equal(model.embedding.weight, BagOfEmbeddings(30, 8, 3).embedding.weight)


def test_learning_rate_schedules() -> None:
    step = Settings(lr=0.8, seed=0, n_seeds=1, dim=4, epochs=4, batch_size=1, recipe=RECIPES["seed000"])
    assert [step.lr_range(e) for e in (1, 2, 3)] == [(0.8, 0.8), (0.4, 0.4), (0.2, 0.2)]
    linear = Settings(lr=0.8, seed=0, n_seeds=1, dim=4, epochs=4, batch_size=1, recipe=RECIPES["fasttext"])
    assert [linear.lr_range(e) for e in (1, 4)] == [(0.8, pytest.approx(0.6)), (pytest.approx(0.2), 0.0)]


def _toy_task(n: int = 200) -> tuple[Packed, np.ndarray]:
    rng = np.random.default_rng(0)
    labels = np.arange(n) % 2
    rows = [[int(label) + 1] + rng.integers(4, 20, 3).tolist() for label in labels]  # token 1: class 0, 2: class 1
    return packed(rows), labels


def toy_settings(recipe: str = "fasttext", **changes) -> Settings:
    return Settings(**{"lr": 0.5, "seed": 0, "n_seeds": 1, "dim": 8, "epochs": 3, "batch_size": 1} | changes,
                    recipe=RECIPES[recipe])  # fmt: skip


@pytest.mark.parametrize(("recipe", "batch_size"), [("fasttext", 1), ("seed000", 1), ("fasttext", 16)])
def test_training_learns_a_separable_toy_task(recipe: str, batch_size: int) -> None:
    data, labels = _toy_task()
    teacher = np.eye(2)[labels] * 4 - 2
    model = BagOfEmbeddings(20, 8, 2, init=RECIPES[recipe].init)
    bigger_batches = {"lr": 4.0, "epochs": 8} if batch_size > 1 else {}
    settings = toy_settings(recipe, batch_size=batch_size, **bigger_batches)
    split = Split(data, labels)
    history, best, _ = train(model, data, teacher, labels, split, split, Loss("kl", 2.0), settings, seed=0, desc="toy")
    assert len(history) == settings.epochs
    assert history[best - 1]["dev_acc"] == 1.0
    assert history[-1]["train_loss"] < history[0]["train_loss"]


def test_the_kept_model_is_the_best_dev_epoch_not_the_last() -> None:
    data, labels = _toy_task()
    dev = Split(data, labels)
    noisy = labels.copy()
    noisy[::3] = 1 - noisy[::3]  # a third of the training labels flipped: later epochs fit the noise
    model = BagOfEmbeddings(20, 8, 2)
    history, best, _ = train(
        model, data, np.zeros((200, 2)), noisy, dev, dev, Loss("ce"), toy_settings(lr=2.0, epochs=6), 0, "toy"
    )
    dev_accuracies = [row["dev_acc"] for row in history]
    assert best == 1 + int(np.argmax(dev_accuracies))  # the first epoch with the best dev accuracy
    assert evaluate(model, data, labels)[1] == pytest.approx(max(dev_accuracies))


def test_training_stops_when_dev_accuracy_plateaus() -> None:
    data, labels = _toy_task()
    split = Split(data, labels)
    model = BagOfEmbeddings(20, 8, 2)
    settings = toy_settings(epochs=30, patience=2)
    history, best, _ = train(model, data, np.zeros((200, 2)), labels, split, split, Loss("ce"), settings, 0, "toy")
    assert history[best - 1]["dev_acc"] == 1.0  # reached early; nothing can beat it, so two more epochs and stop
    assert len(history) == best + 2 < 30


def test_truncation_keeps_the_first_ids_after_skipping() -> None:
    data = packed([[0, 5, 6, 7, 9], [0, 9], [0, 1, 2, 9]], skip_ids=(0, 9))
    assert (data.flat.tolist(), data.starts.tolist()) == ([5, 6, 7, 1, 2], [0, 3, 3, 5])
    short = Packed(
        pa.chunked_array([pa.array([[0, 5, 6, 7, 9], [0, 9], [0, 1, 2, 9]], pa.list_(pa.int32()))]), (0, 9), 2
    )
    assert (short.flat.tolist(), short.starts.tolist()) == ([5, 6, 1, 2], [0, 2, 2, 4])


def test_test_labels_never_change_the_model() -> None:
    data, labels = _toy_task()
    dev = Split(data, labels)
    weights = []
    for test_labels in (labels, np.random.default_rng(1).permutation(labels)):
        torch.manual_seed(0)
        model = BagOfEmbeddings(20, 8, 2)
        teacher = np.zeros((200, 2))
        train(model, data, teacher, labels, dev, Split(data, test_labels), Loss("ce"), toy_settings(), 0, "toy")
        weights.append(model.state_dict())
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_transfer_rows_do_not_count_in_training_accuracy() -> None:
    data, labels = _toy_task()
    mixed_labels = labels.copy()
    mixed_labels[100:] = -1
    teacher = np.eye(2)[labels] * 4 - 2
    model = BagOfEmbeddings(20, 8, 2)
    split = Split(data, labels)
    loss = Loss("kl", 2.0, 0.5)
    history = train(model, data, teacher, mixed_labels, split, split, loss, toy_settings(), 0, "t").history
    assert 0.5 < history[-1]["train_acc"] <= 1.0


def test_save_and_load_round_trip_without_pickle(tmp_path: Path) -> None:
    model = BagOfEmbeddings(30, 6, 3, skip_ids=(0, 2))
    torch.nn.init.normal_(model.output.weight)
    save_student(model, tmp_path / "model.safetensors")
    loaded = load_student(tmp_path / "model.safetensors")
    data, labels = _toy_task(10)
    assert torch.equal(predict(model, data), predict(loaded, data))
    assert loaded.shape() == {"vocab_size": 30, "dim": 6, "num_classes": 3, "skip_ids": [0, 2], "max_length": None}
    capped = BagOfEmbeddings(30, 6, 3, max_length=4)
    save_student(capped, tmp_path / "capped.safetensors")
    assert load_student(tmp_path / "capped.safetensors").max_length == 4
