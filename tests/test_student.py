"""The student model, its losses and gradients, and the shared training loop, on tiny arrays."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch
import torch.nn.functional as F

from student import (
    BagOfEmbeddings,
    Packed,
    Settings,
    cross_entropy_loss,
    distillation_loss,
    evaluate,
    load_student,
    numpy_views,
    save_student,
    sgd_step,
    train,
)


def packed(rows: list[list[int]]) -> Packed:
    return Packed(pa.chunked_array([pa.array(rows, pa.list_(pa.int32()))]))


def test_init_follows_seed_000() -> None:
    model = BagOfEmbeddings(vocab_size=100, dim=50, num_classes=3)
    weights = model.embedding.weight
    assert weights.min() >= 0 and weights.max() < 1 / 50
    assert torch.count_nonzero(model.output.weight) == 0


def test_mean_is_over_real_tokens_only() -> None:
    model = BagOfEmbeddings(vocab_size=10, dim=4, num_classes=2)
    data = packed([[1, 2, 3], [4]])
    bags = model.embedding(*data.batch(np.array([0, 1])))
    assert torch.allclose(bags[0], model.embedding.weight[[1, 2, 3]].mean(0))
    assert torch.allclose(bags[1], model.embedding.weight[4])
    ids, lengths = data.bags(np.array([0]))
    assert ids.tolist() == [1, 2, 3] and lengths.tolist() == [3]


def test_mse_loss_known_value() -> None:
    value, _ = distillation_loss("mse", 1.0, 0.0)(np.array([[1.0, 2.0]]), np.array([[0.0, 4.0]]), np.array([1]))
    assert value == pytest.approx((1 + 4) / 2)


def test_kl_loss_known_value_and_temperature_scaling() -> None:
    student, teacher, labels = np.array([[0.0, 0.0]]), np.array([[math.log(3.0), 0.0]]), np.array([0])
    # softmax(teacher / 1) = (3/4, 1/4); KL to uniform = 3/4 ln(3/2) + 1/4 ln(1/2)
    expected = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert distillation_loss("kl", 1.0, 0.0)(student, teacher, labels)[0] == pytest.approx(expected)
    # At T = 2 the teacher softens to softmax(ln3 / 2, 0), and the KL is scaled by T^2 = 4.
    p = 1 / (1 + 3**-0.5)
    expected_t2 = 4 * (p * math.log(2 * p) + (1 - p) * math.log(2 * (1 - p)))
    assert distillation_loss("kl", 2.0, 0.0)(student, teacher, labels)[0] == pytest.approx(expected_t2)


def reference_loss(kind: str, temperature: float, alpha: float, logits, teacher, labels) -> torch.Tensor:
    """The same losses written with torch's own functions, for checking values and gradients."""
    if kind == "mse":
        soft = F.mse_loss(logits, teacher)
    else:
        soft = temperature**2 * F.kl_div(
            F.log_softmax(logits / temperature, -1),
            F.log_softmax(teacher / temperature, -1),
            log_target=True,
            reduction="batchmean",
        )
    labelled = labels >= 0
    hard = F.cross_entropy(logits[labelled], labels[labelled]) if labelled.any() else torch.tensor(0.0)
    return (1 - alpha) * soft + alpha * hard


@pytest.mark.parametrize(
    ("kind", "temperature", "alpha"),
    [("mse", 1, 0), ("kl", 1, 0), ("kl", 3, 0), ("kl", 2, 0.3), ("mse", 1, 0.5), ("kl", 2, 1.0)],
)
def test_values_and_gradients_match_torch_autograd(kind: str, temperature: float, alpha: float) -> None:
    rng = np.random.default_rng(0)
    logits, teacher = rng.normal(size=(5, 3)), rng.normal(size=(5, 3)) * 3
    labels = np.array([0, 2, -1, 1, -1])  # -1: transfer-set rows without a label
    value, grad = distillation_loss(kind, temperature, alpha)(logits, teacher, labels)
    torch_logits = torch.tensor(logits, requires_grad=True)
    expected = reference_loss(kind, temperature, alpha, torch_logits, torch.tensor(teacher), torch.tensor(labels))
    expected.backward()
    assert value == pytest.approx(expected.item())
    np.testing.assert_allclose(grad, torch_logits.grad.numpy(), rtol=1e-6, atol=1e-9)


def test_cross_entropy_ignores_unlabelled_rows() -> None:
    logits = np.array([[2.0, 0.0], [0.0, 1.0]])
    value, grad = cross_entropy_loss(logits, logits, np.array([0, -1]))
    assert value == pytest.approx(F.cross_entropy(torch.tensor(logits[:1]), torch.tensor([0])).item())
    assert grad[1].tolist() == [0.0, 0.0]
    assert cross_entropy_loss(logits, logits, np.array([-1, -1]))[0] == 0.0


@pytest.mark.parametrize(("clip", "rows"), [(100.0, [0, 1, 2]), (0.01, [0, 1, 2]), (100.0, [0]), (0.01, [0])])
def test_sgd_step_matches_autograd_with_clipped_embedding_gradient(clip: float, rows: list[int]) -> None:
    torch.manual_seed(0)
    model = BagOfEmbeddings(12, 4, 3)
    torch.nn.init.normal_(model.output.weight)
    reference = BagOfEmbeddings(12, 4, 3)
    reference.load_state_dict(model.state_dict())
    data = packed([[1, 2, 2, 5], [3], [5, 7]])  # token 2 twice, token 5 in two bags
    rows = np.array(rows)
    all_teacher, all_labels = np.random.default_rng(1).normal(size=(3, 3)), np.array([0, 2, 1])
    teacher, labels = all_teacher[rows], all_labels[rows]
    loss_fn = distillation_loss("kl", 2.0, 0.5)

    sgd_step(numpy_views(model), data, rows, all_teacher, all_labels, loss_fn, lr=0.1, grad_clip=clip)

    logits = reference(*data.batch(rows))
    reference_loss("kl", 2.0, 0.5, logits, torch.tensor(teacher, dtype=torch.float32), torch.tensor(labels)).backward()
    with torch.no_grad():
        grad = reference.embedding.weight.grad
        grad *= min(1.0, clip / grad.norm().item())
        for parameter in reference.parameters():
            parameter -= 0.1 * parameter.grad
    for name, tensor in reference.state_dict().items():
        torch.testing.assert_close(model.state_dict()[name], tensor, rtol=1e-5, atol=1e-6, msg=name)


def _toy_task(n: int = 200) -> tuple[Packed, np.ndarray]:
    rng = np.random.default_rng(0)
    labels = np.arange(n) % 2
    rows = [[int(label) + 1] + rng.integers(4, 20, 3).tolist() for label in labels]  # token 1: class 0, 2: class 1
    return packed(rows), labels


SETTINGS = Settings(lr=0.5, seed=0, n_seeds=1, dim=8, epochs=3, batch_size=1, grad_clip=1.0, lr_decay=0.5)


@pytest.mark.parametrize("batch_size", [1, 16])
def test_training_learns_a_separable_toy_task(batch_size: int) -> None:
    data, labels = _toy_task()
    teacher = np.eye(2)[labels] * 4 - 2
    model = BagOfEmbeddings(20, 8, 2)
    bigger_batches = {"lr": 4.0, "epochs": 8, "lr_decay": 0.8} if batch_size > 1 else {}
    settings = Settings(**{**SETTINGS.__dict__, "batch_size": batch_size, **bigger_batches})
    loss = distillation_loss("kl", 2.0, 0.0)
    history = train(model, data, teacher, labels, data, labels, loss, settings, seed=0, desc="toy")
    assert len(history) == settings.epochs
    assert history[-1]["test_acc"] == 1.0
    assert history[-1]["train_loss"] < history[0]["train_loss"]


def test_transfer_rows_do_not_count_in_training_accuracy() -> None:
    data, labels = _toy_task()
    mixed_labels = labels.copy()
    mixed_labels[100:] = -1
    teacher = np.eye(2)[labels] * 4 - 2
    model = BagOfEmbeddings(20, 8, 2)
    history = train(
        model, data, teacher, mixed_labels, data, labels, distillation_loss("kl", 2.0, 0.5), SETTINGS, 0, "t"
    )
    assert 0.5 < history[-1]["train_acc"] <= 1.0
    assert history[-1]["test_acc"] == 1.0


def test_training_is_deterministic_for_a_seed() -> None:
    data, labels = _toy_task()
    results = []
    for _ in range(2):
        torch.manual_seed(0)
        model = BagOfEmbeddings(20, 8, 2)
        train(model, data, np.zeros((len(labels), 2)), labels, data, labels, cross_entropy_loss, SETTINGS, 0, "toy")
        results.append(model.state_dict())
    assert all(torch.equal(results[0][k], results[1][k]) for k in results[0])


def test_save_and_load_round_trip_without_pickle(tmp_path: Path) -> None:
    model = BagOfEmbeddings(30, 6, 3)
    torch.nn.init.normal_(model.output.weight)
    save_student(model, tmp_path / "model.safetensors")
    loaded = load_student(tmp_path / "model.safetensors")
    data, labels = _toy_task(10)
    torch_labels = torch.from_numpy(labels)
    assert torch.equal(evaluate(model, data, torch_labels)[2], evaluate(loaded, data, torch_labels)[2])
    assert loaded.shape() == {"vocab_size": 30, "dim": 6, "num_classes": 3}
