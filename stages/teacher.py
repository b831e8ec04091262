"""The teacher: loading a checkpoint, tokenizing and fine-tuning (HF Trainer); inference is teacher_inference.py.

Training goes through Hugging Face's Trainer and accelerate, so the same script runs on one CPU,
one GPU, or many under `accelerate launch` / `torchrun`.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from common import DistilleryError
from task import accuracy, decisions, is_multi_label
from teacher_files import resolve_model


def _hub_error(name: str, error: Exception) -> DistilleryError:
    return DistilleryError(
        f"teacher.model: could not load '{name}' ({type(error).__name__}: {str(error).splitlines()[0]}); "
        "if it is a hub id, this machine may be offline or the id misspelled: save the model with "
        "save_pretrained where the hub is reachable, and point teacher.model at that local directory"
    )


def max_positions(name: str, tokenizer: Any) -> int:
    """How many tokens the teacher can read: its position embeddings, or less where its tokenizer says so."""
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(resolve_model(name))
    except (OSError, ValueError) as error:
        raise _hub_error(name, error) from None
    limits = [getattr(config, "max_position_embeddings", None), tokenizer.model_max_length]
    return min(int(limit) for limit in limits if limit is not None and limit < 1_000_000)


def load_tokenizer(name: str) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(resolve_model(name))
    except (OSError, ValueError) as error:
        raise _hub_error(name, error) from None


def load_classifier(name: str, **config: Any) -> torch.nn.Module:
    from transformers import AutoModelForSequenceClassification

    try:
        # trust_remote_code stays off: a checkpoint's own Python code never runs here.
        return AutoModelForSequenceClassification.from_pretrained(resolve_model(name), **config)
    except pickle.UnpicklingError:
        raise DistilleryError(
            f"teacher.model: '{name}' has a pickle checkpoint (pytorch_model.bin) holding more than tensors; "
            "it is only ever loaded with weights_only=True, so it was refused: convert it to safetensors "
            "where you trust it (model.save_pretrained(directory))"
        ) from None
    except (OSError, ValueError) as error:
        raise _hub_error(name, error) from None


def tokenize(tokenizer: Any, texts: list[str], max_length: int) -> list[list[int]]:
    return tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]


def frame_ids(tokenizer: Any) -> list[int]:
    """Ids of the special tokens a tokenizer puts around every text ([CLS], [SEP], <s>, padding).

    [UNK] and [MASK] stand for words, so they are not among them.
    """
    words = {tokenizer.unk_token_id, tokenizer.mask_token_id}
    return sorted(set(tokenizer.all_special_ids) - words)


def fine_tune(
    model: torch.nn.Module,
    tokenizer: Any,
    train: tuple[list[list[int]], np.ndarray],
    dev: tuple[list[list[int]], np.ndarray],
    settings: dict[str, Any],
    seed: int,
    checkpoints: Path,
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """AdamW with linear warmup and decay, dynamic padding, length-grouped batches; `epochs` at most.

    Dev accuracy is measured after every epoch (for multi-label labels [N, L], the model's
    problem_type, it is the exact-match rate, and dev loss, the mean BCE, chooses instead: with
    rare labels, exact match barely moves). Training stops once the choosing figure has not improved
    for `patience` epochs, and the model of the best epoch is the one returned, with a summary of the run.
    A checkpoint is written to `checkpoints` every `checkpoint_steps` steps and at each epoch's end;
    when one is there already, training resumes from it (weights, optimizer, schedule, RNG, early
    stopping's count), so a killed run picks up where it was.
    """
    from transformers import (
        DataCollatorWithPadding,
        EarlyStoppingCallback,
        Trainer,
        TrainerCallback,
        TrainingArguments,
    )

    class SaveEveryNSteps(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if state.global_step % settings["checkpoint_steps"] == 0:
                control.should_save = True

    multi_label = is_multi_label(train[1])

    def examples(ids: list[list[int]], labels: np.ndarray) -> list[dict[str, Any]]:
        # BCE (multi-label) takes float targets, cross-entropy a class id.
        targets = labels.astype(np.float32).tolist() if multi_label else labels.tolist()
        return [{"input_ids": row, "labels": target} for row, target in zip(ids, targets, strict=True)]

    def scored(prediction: Any) -> dict[str, float]:
        predicted = decisions(prediction.predictions, multi_label)
        return {"accuracy": accuracy(predicted, prediction.label_ids.astype(np.int64))}

    args = TrainingArguments(
        output_dir=str(checkpoints),
        num_train_epochs=settings["epochs"],
        per_device_train_batch_size=settings["batch_size"],
        per_device_eval_batch_size=settings["batch_size"] * 4,
        learning_rate=settings["lr"],
        weight_decay=settings["weight_decay"],
        warmup_steps=settings["warmup_ratio"],
        lr_scheduler_type="linear",
        optim="adamw_torch",
        train_sampling_strategy="group_by_length",
        seed=seed,
        data_seed=seed,
        use_cpu=settings["device"] == "cpu",
        eval_strategy="epoch",
        save_strategy="epoch",
        save_total_limit=1,  # with load_best_model_at_end, the best checkpoint is kept as well
        restore_callback_states_from_checkpoint=True,  # early stopping's count survives a resume
        load_best_model_at_end=True,
        metric_for_best_model="loss" if multi_label else "accuracy",
        greater_is_better=not multi_label,
        report_to="none",
        logging_steps=50,
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=examples(*train),
        eval_dataset=examples(*dev),
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=scored,
        callbacks=[EarlyStoppingCallback(early_stopping_patience=settings["patience"]), SaveEveryNSteps()],
    )
    resume = last_complete_checkpoint(Path(checkpoints))
    if resume is not None:
        print(f"train_teacher: resuming from {resume} (step {resume.name.split('-')[-1]})")
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    evaluations = [log for log in trainer.state.log_history if "eval_accuracy" in log]
    dev_accuracy = [round(log["eval_accuracy"], 6) for log in evaluations]
    dev_loss = [round(log["eval_loss"], 6) for log in evaluations]
    best_epoch = 1 + int(np.argmin(dev_loss) if multi_label else np.argmax(dev_accuracy))
    summary = {"dev_accuracy_per_epoch": dev_accuracy, "epochs_trained": len(dev_accuracy), "best_epoch": best_epoch}
    if multi_label:
        summary["dev_loss_per_epoch"] = dev_loss
    return trainer.model, summary


def last_complete_checkpoint(directory: Path) -> Path | None:
    """The newest Trainer checkpoint that was written to the end (trainer_state.json comes last)."""
    candidates = sorted(directory.glob("checkpoint-*"), key=lambda path: int(path.name.split("-")[-1]))
    for candidate in reversed(candidates):
        try:
            json.loads((candidate / "trainer_state.json").read_text())
        except (OSError, ValueError):
            continue  # killed while saving
        return candidate
    return None


def is_main_process() -> bool:
    """True in a plain run, and in the first process under accelerate launch / torchrun."""
    from accelerate import PartialState

    return PartialState().is_main_process


def parameter_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def classifier_config(label_names: list[str], multi_label: bool) -> dict[str, Any]:
    """from_pretrained's settings for a new classifier head: the labels' names, and BCE for multi-label."""
    id2label = dict(enumerate(label_names))
    return {
        "num_labels": len(label_names),
        "id2label": id2label,
        "label2id": {name: i for i, name in id2label.items()},
        "problem_type": "multi_label_classification" if multi_label else "single_label_classification",
    }
