"""The probe teacher (teacher.method: probe): its pooling, its head against scikit-learn, its folder, and
train_teacher choosing between methods on dev."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import fails_cleanly, run, update_params
from distillery.core.files import read_json
from distillery.teacher.model import classifier_config, load_encoder, load_trained_teacher
from distillery.teacher.probe import Pooling, ProbeClassifier
from distillery.teacher.probe_fit import fit_head, train_probe


def test_pooling_is_the_one_the_sentence_transformers_files_name(tmp_path: Path) -> None:
    assert Pooling.of(tmp_path) == Pooling("mean", normalize=False)  # a plain save_pretrained folder
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling/config.json").write_text(json.dumps({"pooling_mode_cls_token": True}))
    modules = [
        {"path": "", "type": "sentence_transformers.models.Transformer"},
        {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    (tmp_path / "modules.json").write_text(json.dumps(modules))
    assert Pooling.of(tmp_path) == Pooling("cls", normalize=True)

    hidden = torch.tensor([[[1.0, 0.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert torch.allclose(Pooling("mean", False)(hidden, mask), torch.tensor([[2.0, 2.0]]))
    assert torch.allclose(Pooling("max", False)(hidden, mask), torch.tensor([[3.0, 4.0]]))
    assert torch.allclose(Pooling("cls", True)(hidden, mask), torch.tensor([[1.0, 0.0]]))


@pytest.mark.parametrize("num_labels", [2, 3])
def test_the_head_gives_scikit_learns_probabilities(num_labels: int) -> None:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 6)).astype(np.float32)
    labels = (x[:, 0] * 2 + x[:, 1] > 0).astype(np.int64) + (num_labels == 3) * (x[:, 2] > 1)
    head = fit_head(x, labels, 1.0, num_labels, multi_label=False)
    probabilities = torch.softmax(head(torch.from_numpy(x)).double(), dim=1).detach().numpy()
    reference = LogisticRegression(C=1.0, max_iter=5000).fit(x, labels).predict_proba(x)
    np.testing.assert_allclose(probabilities, reference, atol=1e-5)


def test_a_multi_label_head_is_one_regression_per_label() -> None:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(1)
    x = rng.normal(size=(150, 5)).astype(np.float32)
    labels = np.stack([x[:, 0] > 0, x[:, 1] + x[:, 2] > 0.5, x[:, 3] > 1], axis=1).astype(np.int64)
    head = fit_head(x, labels, 4.0, 3, multi_label=True)
    probabilities = torch.sigmoid(head(torch.from_numpy(x)).double()).detach().numpy()
    for j in range(3):
        reference = LogisticRegression(C=4.0, max_iter=5000).fit(x, labels[:, j]).predict_proba(x)[:, 1]
        np.testing.assert_allclose(probabilities[:, j], reference, atol=1e-5)


def test_a_probe_chooses_c_on_dev_and_reads_back_as_it_was_saved(tiny_teacher: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    config = classifier_config(["neg", "pos"], multi_label=False)
    encoder = load_encoder(str(tiny_teacher), **config)
    rng = np.random.default_rng(0)
    ids = [[2, *rng.integers(5, 30, size=rng.integers(3, 12)).tolist(), 3] for _ in range(80)]
    labels = np.array([int(sum(row) % 2) for row in ids])
    train, dev = (ids[:60], labels[:60]), (ids[60:], labels[60:])
    probe, summary = train_probe(encoder, Pooling("mean", False), train, dev, [0.01, 1.0, 100.0], 0, 16)
    scores = summary["dev_per_C"]
    assert sorted(scores) == ["0.01", "1.0", "100.0"] and summary["method"] == "probe"
    assert summary["dev_accuracy"] == max(score["accuracy"] for score in scores.values())
    assert scores[str(summary["C"])]["accuracy"] == summary["dev_accuracy"]

    probe.save_pretrained(tmp_path / "teacher")
    loaded = load_trained_teacher(str(tmp_path / "teacher"))
    assert isinstance(loaded, ProbeClassifier) and loaded.config.id2label == {0: "neg", 1: "pos"}
    batch = {"input_ids": torch.tensor([[2, 7, 9, 3]]), "attention_mask": torch.ones(1, 4, dtype=torch.long)}
    with torch.no_grad():
        assert torch.equal(loaded(**batch).logits, probe(**batch).logits)


def test_train_teacher_makes_each_method_and_dev_chooses(prepared: Path) -> None:
    update_params(prepared, {"teacher": {"method": ["finetune", "probe"], "probe_c": [0.1, 10.0]}})
    output = run(["python", "stages/train_teacher.py"], prepared).stdout
    training = read_json(prepared / "data/teacher/training.json")
    dev = training["dev_per_method"]
    assert sorted(dev) == ["finetune", "probe"] and f"dev chose {training['method']}" in output
    # the higher dev accuracy; on a tie, the first listed
    assert training["method"] == max(dev, key=lambda method: (dev[method]["accuracy"], method == "finetune"))
    assert (prepared / "data/teacher/probe_head.safetensors").is_file() == (training["method"] == "probe")


def test_a_probe_teacher_feeds_the_logits_stages(prepared: Path) -> None:
    update_params(prepared, {"teacher": {"method": "probe", "probe_c": 1.0, "infer_precision": "int8"}})
    run(["python", "stages/train_teacher.py"], prepared)
    assert (prepared / "data/teacher/probe_head.safetensors").is_file()
    output = run(["python", "stages/teacher_logits.py"], prepared).stdout
    assert "teacher accuracy" in output
    import pyarrow.parquet as pq

    dev = pq.read_table(prepared / "data/logits/dev.parquet")
    assert dev.column_names[:3] == ["id", "logit_0", "logit_1"]
    # the probe's int8 logits (ONNX Runtime) agree with it in torch fp32, text by text
    teacher = load_trained_teacher(str(prepared / "data/teacher"))
    with torch.no_grad():
        fp32 = np.concatenate(
            [
                teacher(torch.tensor([ids]), torch.ones(1, len(ids), dtype=torch.long)).logits.numpy()
                for ids in pq.read_table(prepared / "data/tokenized/dev.parquet")["input_ids"].to_pylist()
            ]
        )
    int8 = np.stack([dev["logit_0"].to_numpy(), dev["logit_1"].to_numpy()], axis=1)
    assert np.mean(np.argmax(fp32, axis=1) == np.argmax(int8, axis=1)) >= 0.9
    np.testing.assert_allclose(int8, fp32, atol=0.1 * np.abs(fp32).max())


@pytest.mark.parametrize(
    ("teacher", "expected"),
    [
        ({"method": "distil"}, "'teacher.method' must be finetune, probe"),
        ({"method": ["probe", "probe"]}, "'teacher.method' must be finetune, probe"),
        ({"probe_c": [1.0, -1]}, "'teacher.probe_c' must be a positive number"),
        ({"method": "probe", "fine_tune": False}, "teacher.fine_tune is false"),
    ],
)
def test_bad_method_params_are_one_clear_line(prepared: Path, teacher: dict, expected: str) -> None:
    update_params(prepared, {"teacher": teacher})
    fails_cleanly(prepared, "train_teacher.py", expected)
