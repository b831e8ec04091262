"""The student model, its losses and the shared training loop, on tiny tensors."""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow as pa
import pytest
import torch
import torch.nn.functional as F

from student import (
    BagOfEmbeddings,
    Packed,
    Settings,
    clip_sparse_grad_norm_,
    cross_entropy_loss,
    distillation_loss,
    evaluate,
    load_student,
    save_student,
    train,
)


def test_init_follows_seed_000() -> None:
    model = BagOfEmbeddings(vocab_size=100, dim=50, num_classes=3)
    weights = model.embedding.weight
    assert weights.min() >= 0 and weights.max() < 1 / 50
    assert torch.count_nonzero(model.output.weight) == 0


def test_mean_is_over_real_tokens_only() -> None:
    model = BagOfEmbeddings(vocab_size=10, dim=4, num_classes=2)
    packed = Packed(pa.chunked_array([pa.array([[1, 2, 3], [4]], pa.list_(pa.int32()))]))
    ids, offsets = packed.batch(torch.tensor([0, 1]))
    bags = model.embedding(ids, offsets)
    assert torch.allclose(bags[0], model.embedding.weight[[1, 2, 3]].mean(0))
    assert torch.allclose(bags[1], model.embedding.weight[4])
    single_ids, single_offsets = packed.batch(torch.tensor([0]))
    assert single_ids.tolist() == [1, 2, 3] and single_offsets.tolist() == [0]


def test_embedding_gradient_is_sparse() -> None:
    model = BagOfEmbeddings(vocab_size=1000, dim=8, num_classes=2)
    model(torch.tensor([3, 7]), torch.tensor([0])).sum().backward()
    assert model.embedding.weight.grad.is_sparse


def test_mse_loss_known_value() -> None:
    loss = distillation_loss("mse", temperature=1.0, alpha=0.0)
    value = loss(torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, 4.0]]), torch.tensor([1]))
    assert value.item() == pytest.approx((1 + 4) / 2)


def test_kl_loss_known_value_and_temperature_scaling() -> None:
    student, teacher = torch.tensor([[0.0, 0.0]]), torch.tensor([[math.log(3.0), 0.0]])
    # softmax(teacher / 1) = (3/4, 1/4); KL to uniform = 3/4 ln(3/2) + 1/4 ln(1/2)
    expected = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert distillation_loss("kl", 1.0, 0.0)(student, teacher, torch.tensor([0])).item() == pytest.approx(expected)
    # At T = 2 the teacher softens to softmax(ln3 / 2, 0), and the KL is scaled by T^2 = 4.
    p = 1 / (1 + 3**-0.5)
    expected_t2 = 4 * (p * math.log(2 * p) + (1 - p) * math.log(2 * (1 - p)))
    assert distillation_loss("kl", 2.0, 0.0)(student, teacher, torch.tensor([0])).item() == pytest.approx(expected_t2)


def test_alpha_mixes_in_hard_label_cross_entropy() -> None:
    student, teacher, labels = torch.tensor([[2.0, 0.0]]), torch.tensor([[0.0, 1.0]]), torch.tensor([0])
    soft = distillation_loss("mse", 1.0, 0.0)(student, teacher, labels)
    hard = F.cross_entropy(student, labels)
    mixed = distillation_loss("mse", 1.0, 0.25)(student, teacher, labels)
    assert mixed.item() == pytest.approx(0.25 * hard.item() + 0.75 * soft.item())
    assert distillation_loss("kl", 3.0, 1.0)(student, teacher, labels).item() == pytest.approx(hard.item())
    assert cross_entropy_loss(student, teacher, labels).item() == pytest.approx(hard.item())


def test_unlabelled_transfer_rows_get_only_the_distillation_loss() -> None:
    student, teacher = torch.tensor([[2.0, 0.0], [0.0, 1.0]]), torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    loss = distillation_loss("mse", 1.0, 0.5)
    soft = F.mse_loss(student, teacher)
    hard_first_row = F.cross_entropy(student[:1], torch.tensor([0]))
    assert loss(student, teacher, torch.tensor([0, -1])).item() == pytest.approx(0.5 * soft + 0.5 * hard_first_row)
    assert loss(student, teacher, torch.tensor([-1, -1])).item() == pytest.approx(0.5 * soft.item())


def test_transfer_rows_do_not_count_in_training_accuracy() -> None:
    data, labels = _toy_task()
    mixed_labels = labels.clone()
    mixed_labels[100:] = -1
    teacher = F.one_hot(labels, 2).float() * 4 - 2
    model = BagOfEmbeddings(20, 8, 2)
    history = train(
        model, data, teacher, mixed_labels, data, labels, distillation_loss("kl", 2.0, 0.5), SETTINGS, 0, "t"
    )
    assert 0.0 <= history[-1]["train_acc"] <= 1.0
    assert history[-1]["test_acc"] == 1.0


def test_sparse_gradient_clipping() -> None:
    weight = torch.nn.Parameter(torch.zeros(5, 2))
    weight.grad = torch.sparse_coo_tensor(  # row 1 twice: the norm must be taken after coalescing
        [[1, 1, 3]], torch.tensor([[3.0, 0.0], [0.0, 0.0], [0.0, 4.0]]), (5, 2), check_invariants=True
    )
    clip_sparse_grad_norm_(weight, 1.0)
    assert weight.grad.to_dense().norm().item() == pytest.approx(1.0)
    weight.grad = torch.sparse_coo_tensor([[0]], torch.tensor([[0.3, 0.4]]), (5, 2), check_invariants=True)
    clip_sparse_grad_norm_(weight, 1.0)
    assert weight.grad.to_dense()[0].tolist() == pytest.approx([0.3, 0.4])


def _toy_task(n: int = 200) -> tuple[Packed, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    rows, labels = [], []
    for i in range(n):
        label = i % 2
        noise = torch.randint(4, 20, (3,), generator=generator).tolist()
        rows.append([label + 1] + noise)  # token 1 means class 0, token 2 means class 1
        labels.append(label)
    return Packed(pa.chunked_array([pa.array(rows, pa.list_(pa.int32()))])), torch.tensor(labels)


SETTINGS = Settings(lr=0.5, seed=0, n_seeds=1, dim=8, epochs=3, batch_size=1, grad_clip=1.0, lr_decay=0.5)


@pytest.mark.parametrize("batch_size", [1, 16])
def test_training_learns_a_separable_toy_task(batch_size: int) -> None:
    data, labels = _toy_task()
    teacher = F.one_hot(labels, 2).float() * 4 - 2
    model = BagOfEmbeddings(20, 8, 2)
    bigger_batches = {"lr": 4.0, "epochs": 8, "lr_decay": 0.8} if batch_size > 1 else {}
    settings = Settings(**{**SETTINGS.__dict__, "batch_size": batch_size, **bigger_batches})
    loss = distillation_loss("kl", 2.0, 0.0)
    history = train(model, data, teacher, labels, data, labels, loss, settings, seed=0, desc="toy")
    assert len(history) == settings.epochs
    assert history[-1]["test_acc"] == 1.0
    assert history[-1]["train_loss"] < history[0]["train_loss"]


def test_training_is_deterministic_for_a_seed() -> None:
    data, labels = _toy_task()
    results = []
    for _ in range(2):
        torch.manual_seed(0)
        model = BagOfEmbeddings(20, 8, 2)
        train(model, data, torch.zeros(len(labels), 2), labels, data, labels, cross_entropy_loss, SETTINGS, 0, "toy")
        results.append(model.state_dict())
    assert all(torch.equal(results[0][k], results[1][k]) for k in results[0])


def test_save_and_load_round_trip_without_pickle(tmp_path: Path) -> None:
    model = BagOfEmbeddings(30, 6, 3)
    torch.nn.init.normal_(model.output.weight)
    save_student(model, tmp_path / "model.safetensors")
    loaded = load_student(tmp_path / "model.safetensors")
    data, labels = _toy_task(10)
    assert torch.equal(evaluate(model, data, labels)[2], evaluate(loaded, data, labels)[2])
    assert loaded.shape() == {"vocab_size": 30, "dim": 6, "num_classes": 3}
