"""The export stage and predict.py: a served student that matches the trained one and needs no repo code."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from conftest import ROOT

EXPORT = "data/export/bag"


def test_the_export_folder_holds_model_tokenizer_labels_config_and_card(reproduced: tuple[Path, str]) -> None:
    folder = reproduced[0] / EXPORT
    assert {p.name for p in folder.iterdir()} >= {"model.onnx", "tokenizer.json", "labels.json", "config.json"}
    labels = json.loads((reproduced[0] / "data/prepared/labels.json").read_text())["labels"]
    config = json.loads((folder / "config.json").read_text())
    assert config["labels"] == labels and config["kind"] == "bag"
    student = json.loads((reproduced[0] / "data/bag/student/metrics.json").read_text())["dev_accuracy_per_seed"]
    assert student[str(config["seed"])] == max(student.values())  # the seed chosen on dev
    card = (folder / "README.md").read_text()
    for fragment in ("test accuracy", "hard-label twin", "single-text latency", "parameters", "## Usage"):
        assert fragment in card


def test_onnx_through_predict_matches_the_torch_student(reproduced: tuple[Path, str]) -> None:
    from distillery.export.predict import Classifier
    from distillery.students.bag import load_student, predict

    project = reproduced[0]
    config = json.loads((project / EXPORT / "config.json").read_text())
    bag = load_student(project / f"data/bag/student/models/seed_{config['seed']}.safetensors")
    tokenized = pq.read_table(project / "data/tokenized/test.parquet")
    texts = pq.read_table(project / "data/prepared/test.parquet")["text"].to_pylist()

    served = Classifier(project / EXPORT).logits(texts)
    reference = predict(bag, bag.pack(tokenized["full_ids"])).numpy()

    assert np.abs(served - reference).max() <= 1e-4
    assert (served.argmax(axis=1) == reference.argmax(axis=1)).all()


@pytest.fixture
def outside(reproduced: tuple[Path, str], tmp_path: Path) -> Path:
    """The export folder alone, in a directory outside the repo, its predict.py moved apart from it."""
    shutil.copytree(reproduced[0] / EXPORT, tmp_path / "model")
    assert (tmp_path / "model/predict.py").read_bytes() == (ROOT / "src/distillery/export/predict.py").read_bytes()
    (tmp_path / "tool").mkdir()
    shutil.move(tmp_path / "model/predict.py", tmp_path / "tool/predict.py")
    return tmp_path


def predict_cli(outside: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    command = [sys.executable, "tool/predict.py", *args]
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}  # no PYTHONPATH: nothing of the repo is importable
    return subprocess.run(command, cwd=outside, input=stdin, capture_output=True, text=True, env=env)


def rows(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines()]


def test_predict_reads_arguments_stdin_and_files_outside_the_repo(outside: Path) -> None:
    texts = ["a great moving film", "awful boring plot"]
    from_args = rows(predict_cli(outside, "model", *texts).stdout)
    from_stdin = rows(predict_cli(outside, "model", stdin="\n".join(texts) + "\n").stdout)
    assert from_args == from_stdin and [row["text"] for row in from_args] == texts
    for row in from_args:
        assert set(row["probabilities"]) == {"neg", "pos"}
        assert abs(sum(row["probabilities"].values()) - 1) < 1e-4
        assert row["label"] == max(row["probabilities"], key=row["probabilities"].get)

    pd.DataFrame({"body": texts * 30}).to_csv(outside / "texts.csv", index=False)
    result = predict_cli(outside, "model", "--input", "texts.csv", "--text-column", "body", "--output", "out.jsonl",
                         "--batch-size", "8")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "predict" in result.stderr  # progress on a long input
    written = rows((outside / "out.jsonl").read_text())
    assert len(written) == 60 and written[:2] == from_args


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["no-such-folder", "text"], ["MODEL_DIR 'no-such-folder'", "export stage"]),
        (["model", "--input", "missing.csv"], ["--input 'missing.csv'", "could not be read"]),
        (["model", "--input", "texts.csv", "--text-column", "review"], ["no column 'review'", "--text-column"]),
        (["model", "--input", "texts.xlsx"], ["unknown format", ".parquet"]),
    ],
)
def test_predict_bad_input_is_one_clear_line(outside: Path, args: list[str], expected: list[str]) -> None:
    pd.DataFrame({"body": ["fine"]}).to_csv(outside / "texts.csv", index=False)
    result = predict_cli(outside, *args)
    assert result.returncode == 2
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("error: ") and "Traceback" not in result.stderr
    for fragment in expected:
        assert fragment in message, message
