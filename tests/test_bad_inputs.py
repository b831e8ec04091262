"""The bad-input matrix: each case is one clear `error:` line naming the culprit and the fix, exit status 2,
and no partial output; the two inputs that are not errors (a huge text, no transfer set) run through."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import torch

from conftest import fails_cleanly, make_project, ran_stages, run, tiny_reviews, update_params


def write_reviews(frame: pd.DataFrame) -> Callable[[Path], None]:
    return lambda project: frame.to_csv(project / "data/raw/reviews.csv", index=False)


def latin1_reviews(project: Path) -> None:
    text = tiny_reviews().to_csv(index=False).replace("movie", "café", 1)
    (project / "data/raw/reviews.csv").write_bytes(text.encode("latin-1"))


def set_params(text: str) -> Callable[[Path], None]:
    return lambda project: (project / "params.yaml").write_text(text)


def rename_param(old: str, new: str) -> Callable[[Path], None]:
    def edit(project: Path) -> None:
        path = project / "params.yaml"
        path.write_text(path.read_text().replace(old, new, 1))

    return edit


def change(changes: dict) -> Callable[[Path], None]:
    return lambda project: update_params(project, changes)


def pickle_only_teacher(project: Path) -> None:
    """The tiny teacher as a pytorch_model.bin that smuggles a callable next to its tensors."""
    teacher = project / "models/tiny-bert"
    (teacher / "model.safetensors").unlink()
    torch.save({"weight": torch.zeros(1), "payload": Smuggled()}, teacher / "pytorch_model.bin")


class Smuggled:
    def __reduce__(self) -> tuple:
        return (os.system, ("touch SMUGGLED_CODE_RAN",))


ONE_SAMPLE = tiny_reviews().iloc[:121]  # 61 pos, 60 neg: then one extra class with a single example
SINGLE = pd.concat([ONE_SAMPLE, pd.DataFrame({"review": ["a lone neutral review"], "sentiment": ["meh"]})])
THREE = pd.concat([ONE_SAMPLE, pd.DataFrame({"review": [f"so so {i}" for i in range(3)], "sentiment": ["meh"] * 3})])

CASES = {
    "not utf-8": ("prepare.py", latin1_reviews, ["data/raw/reviews.csv", "not utf-8", "data.encoding"]),
    "header only": ("prepare.py", write_reviews(tiny_reviews().iloc[:0]), ["reviews.csv", "no rows below the header"]),
    "empty file": ("prepare.py", lambda p: (p / "data/raw/reviews.csv").write_text(""), ["reviews.csv", "empty"]),
    "empty label column": (
        "prepare.py",
        write_reviews(tiny_reviews().assign(sentiment=None)),
        ["'sentiment'", "empty in every row", "data.label_column"],
    ),
    "a class of one": ("prepare.py", write_reviews(SINGLE), ["class 'meh'", "1 example", "data.test_fraction"]),
    "a class too small for dev": ("prepare.py", write_reviews(THREE), ["class 'meh'", "3 example", "dev"]),
    "unknown encoding": ("prepare.py", change({"data": {"encoding": "utf-9"}}), ["data.encoding", "utf-9"]),
    "yaml syntax": ("prepare.py", set_params("lr: [0.5\nseed: 1\n"), ["params.yaml", "not valid YAML", "line 2"]),
    "misspelled section": (
        "teacher_source.py",
        rename_param("\nbag:", "\nbga:"),
        ["unknown key 'bga'", "did you mean 'bag'"],
    ),
    "misspelled key": (
        "distil_bag.py",
        rename_param("  temperature:", "  temprature:"),
        ["unknown key 'bag.temprature'", "'bag.temperature'"],
    ),
    "a share past 1": (
        "distil_bag.py",
        change({"bag": {"transfer": [0.5, 2]}}),
        ["bag.transfer", "in [0, 1] or a list of them", "[0.5, 2]"],
    ),
    "a string for a number": ("train_teacher.py", change({"teacher": {"epochs": "ten"}}), ["teacher.epochs", "'ten'"]),
    "max_length past the positions": (
        "tokenize_texts.py",
        change({"teacher": {"max_length": 512}}),
        ["teacher.max_length", "512", "at most 64"],
    ),
    "unreachable hub id": (
        "tokenize_texts.py",
        change({"teacher": {"model": "no-such-org/no-such-model"}}),
        ["no-such-org/no-such-model", "offline", "local directory"],
    ),
    "pickle with code": ("train_teacher.py", pickle_only_teacher, ["pickle", "weights_only=True", "safetensors"]),
}


# What each stage reads must be there before it is run alone.
UPSTREAM = {"tokenize_texts.py": "prepare", "train_teacher.py": "tokenize_texts"}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_clear_line(project: Path, case: str) -> None:
    script, spoil, expected = CASES[case]
    if script in UPSTREAM:
        run(["dvc", "repro", UPSTREAM[script]], project)
    spoil(project)
    fails_cleanly(project, script, *expected)
    assert not (project / "SMUGGLED_CODE_RAN").exists()


def test_a_megabyte_text_and_no_transfer_set_run_through(tmp_path: Path, tiny_teacher: Path) -> None:
    """Not errors: a one-million-character text is cut, and `augment.n_iter: 0` means no transfer set
    (the distilled student then learns from the teacher's logits on the training set alone)."""
    reviews = tiny_reviews()
    reviews.loc[0, "review"] = "great " * 166_667  # 1,000,002 characters
    project = make_project(tmp_path / "project", tiny_teacher, reviews)
    update_params(project, {"augment": {"n_iter": 0}})

    output = run(["dvc", "repro", "distil_bag"], project).stdout  # the last stage that reads the transfer set

    assert "distil_bag" in ran_stages(output)
    stats = json.loads((project / "data/prepared/stats.json").read_text())
    assert stats["truncated_long_texts"] == 1
    prepared = pd.concat(
        pd.read_parquet(project / f"data/prepared/{split}.parquet") for split in ("train", "dev", "test")
    )
    assert prepared["text"].str.len().max() == 100_000
    assert len(pd.read_parquet(project / "data/augmented/transfer.parquet")) == 0
    assert len(pd.read_parquet(project / "data/logits/transfer.parquet")) == 0
    metrics = json.loads((project / "data/bag/student/metrics.json").read_text())
    assert metrics["train_examples"] == stats["train"]
    assert metrics["transfer"] == 0.0 and list(metrics["dev_per_mix"]) == ["transfer 0.0, pool 0.0"]  # none to choose
