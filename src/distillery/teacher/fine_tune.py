"""Fine-tuning the teacher with Hugging Face's Trainer, resumable from its checkpoints.

Training goes through the Trainer and accelerate, so the same stage runs on one CPU, one GPU, or
many under `accelerate launch` / `torchrun`.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from distillery.core.errors import DistilleryError
from distillery.core.params import fraction, optional_positive, param, positive
from distillery.core.task import accuracy, decisions, is_multi_label
from distillery.training.schedule import cooldown_steps, warmup_steps
from distillery.training.selection import DevScore, choose_on_dev
from distillery.training.steps import epochs_for_steps

DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class FineTuning:
    """The teacher.* settings of a fine-tuning run, checked."""

    epochs: int
    patience: int
    min_steps: int  # optimizer steps trained at least, whatever `epochs` says; early stopping waits for them
    batch_size: int
    lr: float
    head_lr: float | None  # the new classifier head's, where it should differ from the pre-trained body's
    warmup_ratio: float
    cooldown: float  # the cooldown's steps, as a share of the steps that trained the kept epoch (schedule.py)
    weight_decay: float
    device: str
    checkpoint_steps: int

    @classmethod
    def from_params(cls, params: dict) -> FineTuning:
        device = str(param(params, "teacher.device"))
        if device not in DEVICES:
            raise DistilleryError(f"params.yaml: 'teacher.device' must be auto, cpu or cuda, got {device!r}")
        return cls(
            epochs=positive(params, "teacher.epochs", int),
            patience=positive(params, "teacher.patience", int),
            min_steps=optional_positive(params, "teacher.min_steps") or 0,
            batch_size=positive(params, "teacher.batch_size", int),
            lr=positive(params, "teacher.lr"),
            head_lr=None if param(params, "teacher.head_lr") is None else positive(params, "teacher.head_lr"),
            warmup_ratio=fraction(params, "teacher.warmup_ratio", low_open=False),
            cooldown=fraction(params, "teacher.cooldown", low_open=False),
            weight_decay=float(param(params, "teacher.weight_decay")),
            device=device,
            checkpoint_steps=positive(params, "teacher.checkpoint_steps", int),
        )

    def epochs_for(self, examples: int, processes: int = 1) -> int:
        """`epochs`, or more where that many epochs of `examples` are under `min_steps` optimizer steps: with
        few labels an epoch is a few steps, and two of them leave the classifier head at the majority class."""
        return epochs_for_steps(self.epochs, self.min_steps, math.ceil(examples / (self.batch_size * processes)))


def head_parameters(model: torch.nn.Module) -> set[str]:
    """The names of the classifier head's parameters: those outside the pre-trained body (model.base_model)."""
    body = {id(p) for p in model.base_model.parameters()}
    return {name for name, p in model.named_parameters() if id(p) not in body}


def parameter_groups(model: torch.nn.Module, settings: FineTuning) -> list[dict[str, Any]]:
    """AdamW's groups: the body at `lr`, the head at `head_lr`; weight decay on matrices only (biases and norm
    weights, the 1-D parameters, have none: the Trainer's own rule for these models)."""
    head = head_parameters(model)
    groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if p.requires_grad:
            groups.setdefault((name in head, p.ndim > 1), []).append(p)
    return [
        {
            "params": params,
            "lr": settings.head_lr if in_head else settings.lr,
            "weight_decay": settings.weight_decay if decayed else 0.0,
        }
        for (in_head, decayed), params in sorted(groups.items())
    ]


def start_at_label_priors(model: torch.nn.Module, labels: np.ndarray) -> bool:
    """Multi-label: set a fresh head's output bias (zeros, as from_pretrained leaves a new head) to each label's
    log-odds in train, so training starts from the label priors rather than p = 0.5 for every label. At the
    body's learning rate the bias moves about lr per step: getting a one-in-ten label to its prior (a logit of
    -2.2) would take far longer than the whole budget. Lin et al. (2017, focal loss) start a rare class so.
    False when the head's bias is not fresh (a classifier given as the teacher keeps what it learned)."""
    output = [module for module in model.modules() if isinstance(module, torch.nn.Linear)][-1]
    if output.out_features != labels.shape[1] or output.bias is None or torch.count_nonzero(output.bias):
        return False
    rate = np.clip(labels.mean(axis=0), 1 / (2 * len(labels)), 1 - 1 / (2 * len(labels)))
    with torch.no_grad():
        output.bias.copy_(torch.from_numpy(np.log(rate / (1 - rate))).to(output.bias.dtype))
    return True


def fine_tune(
    model: torch.nn.Module,
    tokenizer: Any,
    train: tuple[list[list[int]], np.ndarray],
    dev: tuple[list[list[int]], np.ndarray],
    settings: FineTuning,
    seed: int,
    checkpoints: Path,
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """AdamW warmed up, held at its rate, then cooled down (schedule.py); dynamic padding, length-grouped batches.

    Dev accuracy is measured after every epoch (for multi-label labels [N, L], the model's
    problem_type, it is the exact-match rate, and dev loss, the mean BCE, chooses instead: with
    rare labels, exact match barely moves). The rate holds until the choosing figure has not improved
    for `patience` epochs (counted once `min_steps` steps are done) or `epochs` have run; the best
    epoch's weights then cool down for `cooldown` of the steps they trained, and dev chooses between
    them and the cooled weights. Returns that model, with a summary of the run.
    Checkpoints go to `checkpoints` every `checkpoint_steps` steps and at each epoch's end, and the held
    phase's result to checkpoints/held; a run that finds them resumes where it was (weights, optimizer,
    schedule, RNG, early stopping's count), so a killed run picks up where it was.
    """
    multi_label = is_multi_label(train[1])
    data = _Data(tokenizer, train, dev)
    held_dir = checkpoints / "held"
    if (held_dir / "summary.json").exists():
        print(f"train_teacher: the rate's held phase ended before; its kept epoch is in {held_dir}")
        model.load_state_dict(torch.load(held_dir / "model.pt", weights_only=True))
        summary = json.loads((held_dir / "summary.json").read_text())
    else:
        if multi_label and start_at_label_priors(model, train[1]):
            print("train_teacher: the new head starts at each label's log-odds in train")
        summary = _hold(model, data, settings, seed, checkpoints)
    if settings.cooldown == 0:
        return model, summary
    steps = cooldown_steps(settings.cooldown, summary["best_epoch"] * summary["steps_per_epoch"])
    held_weights = {name: value.detach().clone() for name, value in model.state_dict().items()}
    cooled = _cool_down(model, data, settings, seed, steps, checkpoints)
    held_dev = kept_dev_score(summary)
    kept = choose_on_dev([held_dev, DevScore(cooled["eval_accuracy"], cooled["eval_loss"])], multi_label) == 1
    if not kept:
        model.load_state_dict(held_weights)
    summary["cooldown"] = {
        "steps": steps,
        "dev_accuracy": round(cooled["eval_accuracy"], 6),
        "dev_loss": round(cooled["eval_loss"], 6),
        "kept": kept,
    }
    return model, summary


def kept_dev_score(summary: dict[str, Any]) -> DevScore:
    """The dev figures of the weights a run kept: the cooled ones where dev kept them, else the held epoch's."""
    cooled = summary.get("cooldown")
    if cooled and cooled["kept"]:
        return DevScore(cooled["dev_accuracy"], cooled["dev_loss"])
    return DevScore(summary["dev_accuracy_per_epoch"][summary["best_epoch"] - 1], summary["best_dev_loss"])


@dataclass(frozen=True)
class _Data:
    """What both phases train and score on: token ids with their labels, and the tokenizer that pads them."""

    tokenizer: Any
    train: tuple[list[list[int]], np.ndarray]
    dev: tuple[list[list[int]], np.ndarray]


def _trainer(model: torch.nn.Module, data: _Data, settings: FineTuning, seed: int, **phase: Any) -> Any:
    """A Trainer on the data, with the arguments both phases share and the phase's own (`phase`)."""
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    multi_label = is_multi_label(data.train[1])

    def examples(ids: list[list[int]], labels: np.ndarray) -> list[dict[str, Any]]:
        # BCE (multi-label) takes float targets, cross-entropy a class id.
        targets = labels.astype(np.float32).tolist() if multi_label else labels.tolist()
        return [{"input_ids": row, "labels": target} for row, target in zip(ids, targets, strict=True)]

    def scored(prediction: Any) -> dict[str, float]:
        predicted = decisions(prediction.predictions, multi_label)
        return {"accuracy": accuracy(predicted, prediction.label_ids.astype(np.int64))}

    callbacks = phase.pop("callbacks", [])
    args = TrainingArguments(
        per_device_train_batch_size=settings.batch_size,
        per_device_eval_batch_size=settings.batch_size * 4,
        learning_rate=settings.lr,
        weight_decay=settings.weight_decay,
        optim="adamw_torch",
        train_sampling_strategy="group_by_length",
        seed=seed,
        data_seed=seed,
        use_cpu=settings.device == "cpu",
        report_to="none",
        logging_steps=50,
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
        **phase,
    )
    return Trainer(
        model=model,
        args=args,
        train_dataset=examples(*data.train),
        eval_dataset=examples(*data.dev),
        data_collator=DataCollatorWithPadding(data.tokenizer),
        compute_metrics=scored,
        # With head_lr, AdamW gets the head its own rate; without, the Trainer's own optimizer as before.
        optimizer_cls_and_kwargs=(
            (torch.optim.AdamW, {"params": parameter_groups(model, settings)}) if settings.head_lr else None
        ),
        callbacks=callbacks,
    )


def _hold(model: torch.nn.Module, data: _Data, settings: FineTuning, seed: int, checkpoints: Path) -> dict[str, Any]:
    """The rate warmed up, then held, an epoch at a time, until dev stops improving; the best epoch is loaded and
    written to checkpoints/held with the optimizer's state then (for the cooldown). Returns the run's summary."""
    from accelerate import PartialState
    from transformers import EarlyStoppingCallback, TrainerCallback

    class SaveEveryNSteps(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if state.global_step % settings.checkpoint_steps == 0:
                control.should_save = True

    class EarlyStoppingAfterMinSteps(EarlyStoppingCallback):
        """Early stopping whose patience starts once `min_steps` are trained: a few-label teacher sits at the
        majority class for its first epochs, and those must not count as epochs without improvement."""

        def on_evaluate(self, args: Any, state: Any, control: Any, metrics: Any, **kwargs: Any) -> None:
            super().on_evaluate(args, state, control, metrics, **kwargs)
            if state.global_step < settings.min_steps:
                self.early_stopping_patience_counter = 0
                control.should_training_stop = False

    multi_label = is_multi_label(data.train[1])
    examples, processes = len(data.train[0]), PartialState().num_processes
    epochs = settings.epochs_for(examples, processes)
    if epochs > settings.epochs:
        print(
            f"train_teacher: {examples} examples make {epochs} epochs the fewest with teacher.min_steps "
            f"{settings.min_steps} optimizer steps (teacher.epochs is {settings.epochs})"
        )
    steps_per_epoch = math.ceil(examples / (settings.batch_size * processes))
    trainer = _trainer(
        model,
        data,
        settings,
        seed,
        output_dir=str(checkpoints),
        num_train_epochs=epochs,
        warmup_steps=warmup_steps(settings.warmup_ratio, settings.min_steps, steps_per_epoch),
        lr_scheduler_type="constant_with_warmup",
        eval_strategy="epoch",
        save_strategy="epoch",
        save_total_limit=1,  # with load_best_model_at_end, the best checkpoint is kept as well
        restore_callback_states_from_checkpoint=True,  # early stopping's count survives a resume
        load_best_model_at_end=True,
        metric_for_best_model="loss" if multi_label else "accuracy",
        greater_is_better=not multi_label,
        callbacks=[EarlyStoppingAfterMinSteps(early_stopping_patience=settings.patience), SaveEveryNSteps()],
    )
    resume = last_complete_checkpoint(checkpoints)
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
    summary |= {"best_dev_loss": dev_loss[best_epoch - 1], "steps_per_epoch": steps_per_epoch}
    held_dir = checkpoints / "held"
    if PartialState().is_main_process:  # the summary last: once it is there, a new run goes to the cooldown
        held_dir.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), held_dir / "model.pt")
        shutil.copy(Path(trainer.state.best_model_checkpoint) / "optimizer.pt", held_dir / "optimizer.pt")
        (held_dir / "summary.json").write_text(json.dumps(summary))
    PartialState().wait_for_everyone()
    return summary


def _cool_down(
    model: torch.nn.Module, data: _Data, settings: FineTuning, seed: int, steps: int, checkpoints: Path
) -> dict[str, float]:
    """`steps` more steps from the held phase's kept weights and its optimizer's state then, the rate falling
    linearly from its peak to zero. Returns the Trainer's dev figures after them (eval_loss, eval_accuracy)."""
    trainer = _trainer(
        model,
        data,
        settings,
        seed,
        output_dir=str(checkpoints / "cooldown"),
        max_steps=steps,
        lr_scheduler_type="linear",
        eval_strategy="no",
        save_strategy="steps",
        save_steps=settings.checkpoint_steps,
        save_total_limit=1,
    )
    trainer.create_optimizer()  # the Trainer's own, as the held phase had: its saved state fits it
    trainer.optimizer.load_state_dict(torch.load(checkpoints / "held" / "optimizer.pt", weights_only=True))
    resume = last_complete_checkpoint(checkpoints / "cooldown")
    print(f"train_teacher: cooling down for {steps} steps" + (f", resuming from {resume}" if resume else ""))
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    return trainer.evaluate()


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
