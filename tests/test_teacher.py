"""The teacher side: resolving checkpoints, tokenizing, batched inference, taking a fine-tuned model as is."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import run, update_params
from distillery.core.errors import DistilleryError
from distillery.teacher import inference
from distillery.teacher.files import BUNDLED_TEACHER, resolve_model
from distillery.teacher.fine_tune import FineTuning, fine_tune, head_parameters, parameter_groups, start_at_label_priors
from distillery.teacher.inference import TeacherScorer, check_precision, resolve_precision
from distillery.teacher.model import classifier_config, load_classifier
from distillery.teacher.tokens import load_tokenizer, tokenize
from distillery.training.batching import length_sorted_batches, pad_batch


def test_bundled_teacher_resolves_to_the_packaged_minilm() -> None:
    path = Path(resolve_model(BUNDLED_TEACHER))
    assert (path / "model.safetensors").is_file() and (path / "vocab.txt").is_file()


def test_missing_local_teacher_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DistilleryError, match="teacher.model.*not a model directory"):
        resolve_model(str(tmp_path / "nope"))


def test_hub_ids_pass_through_unchanged() -> None:
    hub_id = "distilbert/distilbert-base-multilingual-cased"
    assert resolve_model(hub_id) == hub_id


def test_unreachable_hub_id_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DistilleryError, match="could not load 'no-such-org/no-such-model'"):
        load_tokenizer("no-such-org/no-such-model")


def test_tokenize_truncates_and_keeps_special_tokens(tiny_teacher: Path) -> None:
    tokenizer = load_tokenizer(str(tiny_teacher))
    ids = tokenize(tokenizer, ["good movie", "the " * 50], max_length=8)
    assert ids[0][0] == tokenizer.cls_token_id and ids[0][-1] == tokenizer.sep_token_id
    assert len(ids[0]) == 4 and len(ids[1]) == 8


def test_length_sorted_batches_cover_every_row_once() -> None:
    ids = [[0] * n for n in (5, 1, 3, 9, 2)]
    batches = length_sorted_batches(ids, 2)
    assert sorted(np.concatenate(batches).tolist()) == [0, 1, 2, 3, 4]
    assert [len(ids[i]) for i in np.concatenate(batches)] == [1, 2, 3, 5, 9]


def test_pad_batch_masks_padding() -> None:
    batch = pad_batch([[5, 6, 7], [8]], pad_id=0)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]


def test_batched_logits_match_one_at_a_time_in_input_order(tiny_teacher: Path) -> None:
    torch.manual_seed(0)
    model = load_classifier(str(tiny_teacher), num_labels=3).eval()
    tokenizer = load_tokenizer(str(tiny_teacher))
    ids = tokenize(tokenizer, ["good", "the plot was awful and boring", "fun film", "a"], 16)
    batched = TeacherScorer(model).logits(ids, tokenizer.pad_token_id, batch_size=3)
    with torch.no_grad():
        single = np.stack([model(input_ids=torch.tensor([row])).logits[0].numpy() for row in ids])
    assert batched.shape == (4, 3) and batched.dtype == np.float32
    np.testing.assert_allclose(batched, single, atol=1e-5)


@pytest.mark.parametrize("precision", ["int8", "bf16"])
def test_a_faster_precision_stays_close_to_fp32_and_repeats_exactly(tiny_teacher: Path, precision: str) -> None:
    tokenizer = load_tokenizer(str(tiny_teacher))
    texts = [f"review {i}: " + "the plot was awful and boring but fun " * (i % 7) for i in range(40)]
    ids = tokenize(tokenizer, texts, 64)

    def logits(precision: str) -> np.ndarray:
        torch.manual_seed(0)  # the same random head each time
        model = load_classifier(str(tiny_teacher), num_labels=3)
        return TeacherScorer(model, precision=precision).logits(ids, tokenizer.pad_token_id, batch_size=16)

    reference, faster = logits("fp32"), logits(precision)
    assert faster.shape == reference.shape and faster.dtype == np.float32
    assert not np.array_equal(faster, reference)  # the faster path really ran
    scale = np.abs(reference).max()
    assert np.abs(faster - reference).max() <= 0.05 * scale
    np.testing.assert_array_equal(logits(precision), faster)


def test_bf16_on_a_cpu_without_bf16_instructions_says_to_use_fp32(
    tiny_teacher: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    model = load_classifier(str(tiny_teacher), num_labels=3)
    TeacherScorer(model, device="cpu", precision="bf16")
    assert ("emulated" in capsys.readouterr().out) == (not inference.native_cpu_bf16())
    monkeypatch.setattr(inference, "native_cpu_bf16", lambda: False)  # the CPU this suite may not run on
    TeacherScorer(model, device="cpu", precision="bf16")
    assert "bf16 is emulated and slower than fp32 here: set teacher.infer_precision: fp32" in capsys.readouterr().out


def test_int8_on_a_gpu_and_unknown_precisions_are_clear_errors() -> None:
    with pytest.raises(DistilleryError, match="teacher.infer_precision.*one of"):
        check_precision("fp16", "auto")
    with pytest.raises(DistilleryError, match="int8' runs on the CPU.*use bf16 on a GPU"):
        check_precision("int8", "cuda")


def test_auto_precision_is_int8_on_the_cpu_and_fp32_on_a_gpu() -> None:
    assert resolve_precision("auto", "cpu") == "int8"
    assert resolve_precision("auto", "cuda") == "fp32"
    assert resolve_precision("auto", "auto") == ("fp32" if torch.cuda.is_available() else "int8")
    assert resolve_precision("bf16", "auto") == "bf16"


def test_fine_tune_false_takes_a_classifier_as_is(prepared: Path, tiny_teacher: Path) -> None:
    classifier = load_classifier(str(tiny_teacher), num_labels=2, id2label={0: "neg", 1: "pos"})
    classifier.save_pretrained(prepared / "models/fine-tuned")
    load_tokenizer(str(tiny_teacher)).save_pretrained(prepared / "models/fine-tuned")
    update_params(prepared, {"teacher": {"model": "./models/fine-tuned", "fine_tune": False}})
    output = run(["python", "stages/train_teacher.py"], prepared).stdout
    assert "as it is" in output
    saved = load_classifier(str(prepared / "data/teacher"))
    for name, tensor in classifier.state_dict().items():
        assert torch.equal(saved.state_dict()[name], tensor), name


def test_fine_tune_false_rejects_a_bare_encoder(prepared: Path) -> None:
    update_params(prepared, {"teacher": {"fine_tune": False}})
    result = run(["python", "stages/train_teacher.py"], prepared, check=False)
    assert result.returncode == 2
    assert "not a fine-tuned classifier" in result.stderr and "teacher.fine_tune: true" in result.stderr
    assert not (prepared / "data/teacher").exists()


def test_min_steps_raises_the_epochs_of_a_small_training_set() -> None:
    settings = FineTuning(
        epochs=2,
        patience=1,
        min_steps=300,
        batch_size=32,
        lr=5e-5,
        head_lr=None,
        warmup_ratio=0.1,
        cooldown=0.2,
        weight_decay=0.01,
        device="cpu",
        checkpoint_steps=60,
    )
    assert settings.epochs_for(8600) == 2  # 269 steps an epoch: the default data trains its 2 epochs
    assert settings.epochs_for(500) == 19 and settings.epochs_for(250) == 38
    assert settings.epochs_for(500, processes=2) == 38  # each step takes a batch on every process


def test_min_steps_hold_off_early_stopping_in_the_shared_loop() -> None:
    import torch

    from distillery.training.loop import fit
    from distillery.training.steps import epochs_for_steps

    assert epochs_for_steps(1, 150, 16) == 10 and epochs_for_steps(1, 150, 270) == 1 and epochs_for_steps(3, 0, 5) == 3
    model = torch.nn.Linear(1, 1)
    flat = lambda model, split: (1.0, 0.5)  # noqa: E731 - dev never improves after the first epoch
    history, kept, _ = fit(model, lambda epoch: (0.0, 0), flat, 1, 1, 10, 1, "flat", min_epochs=6)
    assert len(history) == 6 and kept == 1  # patience 1 would have stopped at epoch 2


def tiny_settings(**changes: object) -> FineTuning:
    base = {"epochs": 1, "patience": 1, "min_steps": 0, "batch_size": 8, "lr": 1e-4, "head_lr": None}
    base |= {"warmup_ratio": 0.0, "cooldown": 0.0, "weight_decay": 0.01, "device": "cpu", "checkpoint_steps": 1000}
    return FineTuning(**(base | changes))


def multi_label_rows(rows: int = 40) -> tuple[list[list[int]], np.ndarray]:
    rng = np.random.default_rng(0)
    labels = (rng.random((rows, 3)) < [0.5, 0.1, 0.25]).astype(np.int64)
    labels[:2] = 1  # every label has positives
    ids = [[2, *rng.integers(5, 40, size=int(rng.integers(3, 12))).tolist(), 3] for _ in range(rows)]
    return ids, labels


def test_a_new_multi_label_head_starts_at_each_labels_log_odds_and_a_trained_one_is_kept(tiny_teacher: Path) -> None:
    model = load_classifier(str(tiny_teacher), **classifier_config(["a", "b", "c"], multi_label=True))
    _, labels = multi_label_rows()
    assert start_at_label_priors(model, labels)
    assert torch.sigmoid(model.classifier.bias).tolist() == pytest.approx(labels.mean(axis=0).tolist(), abs=1e-6)
    assert not start_at_label_priors(model, labels[:10])  # its bias is no longer fresh: left as it is


def test_the_head_has_its_own_learning_rate_and_no_parameter_is_left_out(tiny_teacher: Path) -> None:
    model = load_classifier(str(tiny_teacher), **classifier_config(["a", "b", "c"], multi_label=True))
    assert head_parameters(model) == {"classifier.weight", "classifier.bias"}
    groups = parameter_groups(model, tiny_settings(lr=1e-4, head_lr=1e-2))
    grouped = [id(p) for group in groups for p in group["params"]]
    assert sorted(grouped) == sorted(id(p) for p in model.parameters()) and len(set(grouped)) == len(grouped)
    for group in groups:
        in_head = any(p is model.classifier.weight or p is model.classifier.bias for p in group["params"])
        assert group["lr"] == (1e-2 if in_head else 1e-4)
        assert group["weight_decay"] == (0.01 if group["params"][0].ndim > 1 else 0.0)


@pytest.mark.parametrize("head_lr", [None, 0.5])
def test_fine_tuning_moves_the_head_at_head_lr(tiny_teacher: Path, tmp_path: Path, head_lr: float | None) -> None:
    torch.manual_seed(0)
    model = load_classifier(str(tiny_teacher), **classifier_config(["a", "b", "c"], multi_label=True))
    body = model.base_model.embeddings.word_embeddings.weight.detach().clone()
    ids, labels = multi_label_rows()
    settings = tiny_settings(head_lr=head_lr)
    model, _ = fine_tune(model, load_tokenizer(str(tiny_teacher)), (ids, labels), (ids, labels), settings, 0, tmp_path)
    priors = torch.logit(torch.tensor(labels.mean(axis=0), dtype=torch.float32))
    moved = (model.classifier.bias.detach() - priors).abs().max().item()
    assert (moved > 0.05) if head_lr else (moved < 0.01)  # 5 steps at 1e-4 move a bias by about 5e-4
    assert (model.base_model.embeddings.word_embeddings.weight - body).abs().max().item() < 0.01  # the body at lr


def test_the_teacher_cools_down_its_kept_epoch_and_a_new_run_resumes_after_the_held_phase(
    tiny_teacher: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    ids, labels = multi_label_rows()
    classes = labels[:, 0]  # two classes, single-label
    settings = tiny_settings(epochs=3, cooldown=0.5, lr=1e-3)
    weights, summaries = [], []
    for _ in range(2):  # the second run finds the first's checkpoints, as a killed stage's re-run would
        torch.manual_seed(0)
        model = load_classifier(str(tiny_teacher), **classifier_config(["a", "b"], multi_label=False))
        model, summary = fine_tune(
            model, load_tokenizer(str(tiny_teacher)), (ids, classes), (ids, classes), settings, 0, tmp_path
        )
        weights.append({name: value.clone() for name, value in model.state_dict().items()})
        summaries.append(summary)
    assert "the rate's held phase ended before" in capsys.readouterr().out
    summary = summaries[0]
    assert summary == summaries[1] and all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert summary["steps_per_epoch"] == 5 and 1 <= summary["best_epoch"] <= summary["epochs_trained"] <= 3
    cooled = summary["cooldown"]
    assert cooled["steps"] == math.ceil(0.5 * 5 * summary["best_epoch"])
    held_accuracy = summary["dev_accuracy_per_epoch"][summary["best_epoch"] - 1]
    assert cooled["kept"] == (cooled["dev_accuracy"] > held_accuracy)
