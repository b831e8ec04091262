"""The students that read word order: a transformer cut from the teacher's layers, the BiLSTM, and the
shared torch loop that trains them."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from distillery.core.errors import DistilleryError
from distillery.students import bilstm, transformer
from distillery.students.encoders import Budget, token_examples, train_seed
from distillery.training.loop import torch_epoch
from distillery.training.losses import Loss, hidden_cosine_loss


def tiny_classifier(kind: str, layers: int = 4) -> torch.nn.Module:
    """A random 4-layer sequence classifier of a family (BERT, DistilBERT, RoBERTa, and GPT-2 which is not one)."""
    import transformers

    torch.manual_seed(0)
    size = {"vocab_size": 50, "num_labels": 3}
    configs = {
        "bert": transformers.BertConfig(
            hidden_size=16, num_hidden_layers=layers, num_attention_heads=2, intermediate_size=32, **size
        ),
        "distilbert": transformers.DistilBertConfig(dim=16, n_layers=layers, n_heads=2, hidden_dim=32, **size),
        "roberta": transformers.RobertaConfig(
            hidden_size=16, num_hidden_layers=layers, num_attention_heads=2, intermediate_size=32, **size
        ),
        "gpt2": transformers.GPT2Config(n_embd=16, n_layer=layers, n_head=2, pad_token_id=0, **size),
    }
    return transformers.AutoModelForSequenceClassification.from_config(configs[kind]).eval()


def layer_weights(model: torch.nn.Module, index: int) -> dict[str, torch.Tensor]:
    """The weights of encoder layer `index`, named within the layer."""
    marker = f".layer.{index}."
    return {key.split(marker)[1]: value for key, value in model.state_dict().items() if marker in key}


@pytest.mark.parametrize("kind", ["bert", "distilbert", "roberta"])
def test_cutting_copies_exactly_the_chosen_layers(kind: str) -> None:
    teacher = tiny_classifier(kind)
    student = transformer.cut_layers(teacher, [0, 3], "./teacher", "teacher.model")
    assert student.__class__ is teacher.__class__ and student.config.num_hidden_layers == 2
    for new, old in ((0, 0), (1, 3)):
        chosen, copied = layer_weights(teacher, old), layer_weights(student, new)
        assert chosen.keys() == copied.keys() and chosen
        assert all(torch.equal(chosen[key], copied[key]) for key in chosen)
    assert not layer_weights(student, 2)
    outside = {key: value for key, value in teacher.state_dict().items() if ".layer." not in key}
    assert all(torch.equal(student.state_dict()[key], value) for key, value in outside.items())


def test_a_cut_student_reloads_as_a_standard_model(tmp_path: Path) -> None:
    from transformers import AutoModelForSequenceClassification

    student = transformer.TransformerClassifier(
        transformer.cut_layers(tiny_classifier("bert"), [1, 2], "t", "teacher.model")
    )
    transformer.save(student, tmp_path / "student")
    reloaded = AutoModelForSequenceClassification.from_pretrained(tmp_path / "student").eval()
    ids, mask = torch.tensor([[2, 7, 9, 3], [2, 5, 3, 0]]), torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])
    with torch.no_grad():
        torch.testing.assert_close(reloaded(input_ids=ids, attention_mask=mask).logits, student.eval()(ids, mask))
    assert reloaded.config.num_hidden_layers == 2


def test_an_architecture_without_selectable_layers_is_refused_by_name() -> None:
    with pytest.raises(DistilleryError, match=r"teacher.model: 'gpt-teacher' is a gpt2 model"):
        transformer.cut_layers(tiny_classifier("gpt2"), [0], "gpt-teacher", "teacher.model")


@pytest.mark.parametrize("layers", [[4], [], [-1]])
def test_layers_outside_the_teacher_are_refused(layers: list[int]) -> None:
    with pytest.raises(DistilleryError, match=r"transformer.model.layers' must list layers of 't', 0 to 3"):
        transformer.cut_layers(tiny_classifier("bert"), layers, "t", "teacher.model")


def test_bilstm_ignores_padding_and_round_trips(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = bilstm.BiLSTMClassifier(vocab_size=20, embedding_dim=8, width=6, hidden=5, mlp=7, num_classes=3).eval()
    alone = model(torch.tensor([[4, 5, 6]]), torch.tensor([[1, 1, 1]]))
    padded = model(torch.tensor([[4, 5, 6, 0, 0], [7, 8, 9, 10, 11]]), torch.tensor([[1, 1, 1, 0, 0], [1] * 5]))
    torch.testing.assert_close(padded[:1], alone)
    bilstm.save(model, tmp_path / "bilstm")
    reloaded = bilstm.load(tmp_path / "bilstm")
    torch.testing.assert_close(reloaded(torch.tensor([[4, 5, 6]]), torch.tensor([[1, 1, 1]])), alone)


def toy_task(n: int, rng: np.random.Generator) -> tuple[list[list[int]], np.ndarray]:
    """Label 1 when token 3 occurs somewhere in a random sequence of tokens 4..19."""
    labels = rng.integers(0, 2, n)
    ids = []
    for label in labels:
        row = rng.integers(4, 20, rng.integers(3, 12)).tolist()
        if label:
            row[rng.integers(len(row))] = 3
        ids.append([1, *row, 2])
    return ids, labels


def test_the_torch_loop_distils_a_bilstm_and_keeps_the_best_dev_epoch() -> None:
    rng = np.random.default_rng(0)
    (train_ids, train_labels), (dev_ids, dev_labels) = toy_task(300, rng), toy_task(100, rng)
    teacher = np.stack([-4.0 * (1 - train_labels) + 4.0 * train_labels, np.zeros(300)], axis=1)[:, ::-1]
    train = token_examples(train_ids, np.full(300, -1), 0, np.ascontiguousarray(teacher))  # soft labels only
    dev = token_examples(dev_ids, dev_labels, 0)
    torch.manual_seed(0)
    model = bilstm.BiLSTMClassifier(20, 8, None, 8, 8, 2)
    budget = Budget(
        n_seeds=1, epochs=6, patience=2, min_steps=0, batch_size=16, lr=0.02, weight_decay=0, warmup_ratio=0, cooldown=0
    )
    history, best, _ = train_seed(model, train, {"dev": dev, "test": dev}, Loss("kl", 2.0), budget, 0, "toy")
    assert history[best - 1]["dev_acc"] == max(row["dev_acc"] for row in history) > 0.9
    assert all(row["train_acc"] == 0 for row in history)  # no labelled rows: nothing to count


def test_a_higher_epoch_ceiling_changes_no_epoch_it_shares_and_the_kept_epoch_cools_down() -> None:
    """The rate holds until dev stops it: the ceiling bounds time, and the epochs two ceilings share are the same."""
    rng = np.random.default_rng(0)
    (train_ids, train_labels), (dev_ids, dev_labels) = toy_task(200, rng), toy_task(80, rng)
    train, dev = token_examples(train_ids, train_labels, 0), token_examples(dev_ids, dev_labels, 0)
    runs = {}
    for epochs, cooldown in ((2, 0.0), (4, 0.5)):
        torch.manual_seed(0)
        model = bilstm.BiLSTMClassifier(20, 8, None, 8, 8, 2)
        budget = Budget(1, epochs, None, 0, 16, 0.01, 0, warmup_ratio=0.1, cooldown=cooldown)
        runs[epochs] = train_seed(model, train, {"dev": dev, "test": dev}, Loss("kl", 1.0), budget, 0, "toy")
    assert runs[2].history == runs[4].history[:2] and runs[2].cooldown is None
    cooled = runs[4].cooldown
    assert cooled["steps"] == math.ceil(0.5 * runs[4].best_epoch * 13)  # 13 batches of 16 an epoch
    kept = runs[4].history[runs[4].best_epoch - 1]
    assert cooled["kept"] == (cooled["dev_acc"] > kept["dev_acc"])


def test_hidden_cosine_loss_known_values_and_rows_without_a_target() -> None:
    student = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    teacher = torch.tensor([[2.0, 0.0], [1.0, 0.0], [float("nan"), float("nan")]])
    assert hidden_cosine_loss(student, teacher).item() == pytest.approx(0.5)  # (0 + 1) / 2; the NaN row is skipped
    assert hidden_cosine_loss(student[2:], teacher[2:]).item() == 0


def test_beta_pulls_the_students_hidden_states_towards_the_teachers() -> None:
    """Only the cosine term (alpha 0, the teacher's logits equal the student's): it alone must move the weights."""
    torch.manual_seed(0)
    model = transformer.TransformerClassifier(
        transformer.cut_layers(tiny_classifier("bert"), [0], "t", "teacher.model")
    )
    ids = [[2, 5, 6, 7, 3], [2, 8, 9, 3]]
    examples = token_examples(ids, np.array([0, 1]), 0)
    with torch.no_grad():
        logits, pooled = model.eval().with_hidden(*examples.collate(np.array([0, 1])))
    examples.targets = logits.numpy()
    examples.hidden = -pooled.numpy()  # pointing the other way: the loss is 2 at the start
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = [
        torch_epoch(model.eval(), examples, [np.array([0, 1])], Loss("kl", beta=1.0), optimizer, lambda b: 0.1)[0]
        for _ in range(5)
    ]
    assert losses[0] == pytest.approx(2 * 2, abs=0.2)  # near 2 a row (dropout is on while training)
    assert losses[-1] < losses[0] - 0.5


def test_beta_must_not_be_negative() -> None:
    params = {"transformer": {"loss": "kl", "temperature": 1.0, "alpha": 0.0, "beta": -1}}
    with pytest.raises(DistilleryError, match=r"'transformer.beta' must be a number >= 0, got -1"):
        Loss.from_params(params, "transformer")
