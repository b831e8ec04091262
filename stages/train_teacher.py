"""Stage train_teacher: fine-tune AutoModelForSequenceClassification, or take a fine-tuned one as is.

Writes data/teacher/ in save_pretrained format (model and tokenizer), with id2label/label2id (and
problem_type multi_label_classification, BCE, for multi-label data), and training.json: the dev
accuracy after each epoch, the epochs trained, the epoch kept and its cooldown (steps, dev, kept).
Checkpoints go to .checkpoints/train_teacher-<key>/ every `teacher.checkpoint_steps` steps: a killed
run resumes from the last one when `dvc repro` runs it again, and they are deleted once the outputs exist.
Scale out with `accelerate launch stages/train_teacher.py` or `torchrun stages/train_teacher.py`.
"""

from distillery.core import paths
from distillery.core.errors import DistilleryError, run_stage
from distillery.core.files import read_parquet, staged_outputs, write_json
from distillery.core.params import load_params, param
from distillery.core.task import label_array, read_task
from distillery.teacher.checkpoints import checkpoint_dir, remove
from distillery.teacher.fine_tune import FineTuning, fine_tune
from distillery.teacher.model import check_fine_tuned, classifier_config, load_classifier
from distillery.teacher.processes import is_main_process
from distillery.teacher.tokens import load_tokenizer
from distillery.training.loop import seed_everything


def main() -> None:
    params = load_params()
    seed = int(param(params, "seed"))
    model_name = str(param(params, "teacher.model"))
    should_fine_tune = param(params, "teacher.fine_tune")
    if not isinstance(should_fine_tune, bool):
        raise DistilleryError(f"params.yaml: 'teacher.fine_tune' must be true or false, got {should_fine_tune!r}")
    settings = FineTuning.from_params(params)
    task = read_task()

    seed_everything(seed)
    tokenizer = load_tokenizer(model_name)
    if should_fine_tune:
        model = load_classifier(model_name, **classifier_config(task.label_names, task.multi_label))
        train, dev = (read_parquet(paths.tokenized(split)) for split in ("train", "dev"))
        kind = f"{task.num_labels} labels (multi-label, BCE)" if task.multi_label else f"{task.num_labels} classes"
        print(
            f"train_teacher: fine-tuning {model_name} on {train.num_rows} examples, {kind}, "
            f"at most {settings.epochs} epochs, stopping after {settings.patience} without a better "
            f"dev {'loss' if task.multi_label else 'accuracy'} ({dev.num_rows} dev examples)"
        )
        checkpoints = checkpoint_dir("train_teacher", params)
        model, training = fine_tune(
            model,
            tokenizer,
            (train["input_ids"].to_pylist(), label_array(train["label"])),
            (dev["input_ids"].to_pylist(), label_array(dev["label"])),
            settings,
            seed,
            checkpoints,
        )
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
    else:
        model = load_classifier(model_name)
        check_fine_tuned(model, model_name, task.label_names, task.multi_label)
        print(f"train_teacher: using the fine-tuned {model_name} as it is (teacher.fine_tune: false)")
        training = {"epochs_trained": 0, "best_epoch": None, "dev_accuracy_per_epoch": []}

    if is_main_process():
        with staged_outputs(paths.TEACHER) as out:
            model.save_pretrained(out)
            tokenizer.save_pretrained(out)
            write_json(training, out / "training.json")
        if should_fine_tune:
            remove(checkpoints)


if __name__ == "__main__":
    run_stage(main)
