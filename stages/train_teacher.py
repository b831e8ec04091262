"""Stage train_teacher: make the teacher (`teacher.method`), or take a fine-tuned one as is.

- `finetune`: AutoModelForSequenceClassification fine-tuned in full (teacher/fine_tune.py).
- `probe`: the encoder frozen, logistic regression over its sentence embedding (teacher/probe.py).
- a list: each is made, and dev chooses (teacher/methods.py); training.json says what each scored.

Writes data/teacher/ in save_pretrained format (model and tokenizer; a probe adds its head file), with
id2label/label2id (and problem_type multi_label_classification, BCE, for multi-label data), and
training.json: the method, the dev accuracy after each epoch, the epochs trained, the epoch kept and
its cooldown (steps, dev, kept), or the probe's C per dev score.
Checkpoints go to .checkpoints/train_teacher-<key>/ every `teacher.checkpoint_steps` steps: a killed
run resumes from the last one when `dvc repro` runs it again, and they are deleted once the outputs exist.
Scale out with `accelerate launch stages/train_teacher.py` or `torchrun stages/train_teacher.py`.
"""

from pathlib import Path
from typing import Any

import numpy as np

from distillery.core import paths
from distillery.core.errors import DistilleryError, run_stage
from distillery.core.files import read_json, read_parquet, staged_outputs, write_json
from distillery.core.params import load_params, param
from distillery.core.task import Task, label_array, read_task
from distillery.teacher.checkpoints import checkpoint_dir, remove
from distillery.teacher.files import resolve_model
from distillery.teacher.fine_tune import FineTuning, fine_tune
from distillery.teacher.methods import choose_method, teacher_methods
from distillery.teacher.model import check_fine_tuned, classifier_config, load_classifier, load_encoder
from distillery.teacher.probe import Pooling
from distillery.teacher.probe_fit import probe_cs, train_probe
from distillery.teacher.processes import is_main_process
from distillery.teacher.tokens import load_tokenizer
from distillery.training.loop import seed_everything

Split = tuple[list[list[int]], np.ndarray]


def main() -> None:
    params = load_params()
    seed = int(param(params, "seed"))
    model_name = str(param(params, "teacher.model"))
    should_fine_tune = param(params, "teacher.fine_tune")
    if not isinstance(should_fine_tune, bool):
        raise DistilleryError(f"params.yaml: 'teacher.fine_tune' must be true or false, got {should_fine_tune!r}")
    methods = teacher_methods(params)
    if not should_fine_tune and methods != ["finetune"]:
        raise DistilleryError(
            "params.yaml: 'teacher.method' makes a teacher from teacher.model, but teacher.fine_tune is false "
            "(take it as it is): set teacher.method: finetune, or teacher.fine_tune: true"
        )
    settings = FineTuning.from_params(params)
    cs = probe_cs(params)
    task = read_task()

    seed_everything(seed)
    tokenizer = load_tokenizer(model_name)
    if should_fine_tune:
        checkpoints = checkpoint_dir("train_teacher", params)
        train, dev = (read_parquet(paths.tokenized(split)) for split in ("train", "dev"))
        train, dev = ((split["input_ids"].to_pylist(), label_array(split["label"])) for split in (train, dev))
        candidates = {}
        for method in methods:
            seed_everything(seed)
            if method == "finetune":
                candidates[method] = fine_tuned(model_name, tokenizer, task, train, dev, settings, seed, checkpoints)
            else:
                candidates[method] = probed(model_name, task, train, dev, cs, settings.batch_size)
        model, training = choose_method(candidates, task.multi_label)
        if len(candidates) > 1:
            print(f"train_teacher: dev chose {training['method']}: {training['dev_per_method']}")
    else:
        model = load_classifier(model_name)
        check_fine_tuned(model, model_name, task.label_names, task.multi_label)
        print(f"train_teacher: using the fine-tuned {model_name} as it is (teacher.fine_tune: false)")
        training = {"method": "as_is", "epochs_trained": 0, "best_epoch": None, "dev_accuracy_per_epoch": []}

    if is_main_process():
        with staged_outputs(paths.TEACHER) as out:
            model.save_pretrained(out)
            tokenizer.save_pretrained(out)
            write_json(training, out / "training.json")
        if should_fine_tune:
            remove(checkpoints)


def fine_tuned(
    model_name: str,
    tokenizer: Any,
    task: Task,
    train: Split,
    dev: Split,
    settings: FineTuning,
    seed: int,
    checkpoints: Path,
) -> tuple[Any, dict]:
    model = load_classifier(model_name, **classifier_config(task.label_names, task.multi_label))
    kind = f"{task.num_labels} labels (multi-label, BCE)" if task.multi_label else f"{task.num_labels} classes"
    print(
        f"train_teacher: fine-tuning {model_name} on {len(train[0])} examples, {kind}, "
        f"at most {settings.epochs} epochs, stopping after {settings.patience} without a better "
        f"dev {'loss' if task.multi_label else 'accuracy'} ({len(dev[0])} dev examples)"
    )
    model, training = fine_tune(model, tokenizer, train, dev, settings, seed, checkpoints)
    cooled = training.get("cooldown")
    print(
        f"train_teacher: trained {training['epochs_trained']} epochs, kept epoch {training['best_epoch']} "
        f"(dev accuracy per epoch {training['dev_accuracy_per_epoch']})"
        + (
            f"; cooled down {cooled['steps']} steps: dev {cooled['dev_accuracy']}, kept: {cooled['kept']}"
            if cooled
            else ""
        )
    )
    return model, {"method": "finetune"} | training


def probed(model_name: str, task: Task, train: Split, dev: Split, cs: list[float], batch_size: int) -> tuple[Any, dict]:
    encoder = load_encoder(model_name, **classifier_config(task.label_names, task.multi_label))
    pooling = Pooling.of(resolve_model(model_name))
    print(
        f"train_teacher: probing {model_name} (frozen, {pooling.mode} pooling"
        f"{', normalised' if pooling.normalize else ''}) with logistic regression; C in {cs}, chosen on dev"
    )
    model, training = train_probe(encoder, pooling, train, dev, cs, read_json(paths.VOCAB)["pad_id"], batch_size)
    print(f"train_teacher: probe: dev chose C {training['C']} ({training['dev_per_C']})")
    return model, training | {"epochs_trained": 0, "best_epoch": None, "dev_accuracy_per_epoch": []}


if __name__ == "__main__":
    run_stage(main)
