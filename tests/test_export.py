"""The export stage and predict.py: a served student that matches the trained one and needs no repo code."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from conftest import ROOT, project_env

EXPORT = "data/export/bag"
ARCHITECTURES = ["bag", "bilstm", "transformer"]


def front_matter(card: str) -> dict:
    """A model card's YAML metadata block, as the Hugging Face hub reads it."""
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_every_student_is_exported_with_model_tokenizer_labels_config_and_card(
    reproduced: tuple[Path, str], arch: str
) -> None:
    folder = reproduced[0] / f"data/export/{arch}"
    settings = json.loads((folder / "config.json").read_text())["distillery"]
    assert {p.name for p in folder.iterdir()} >= {settings["model"], "tokenizer.json", "labels.json", "predict.py"}
    labels = json.loads((reproduced[0] / "data/prepared/labels.json").read_text())["labels"]
    assert settings["labels"] == labels and settings["kind"] == arch
    student = json.loads((reproduced[0] / f"data/{arch}/student/metrics.json").read_text())["dev_accuracy_per_seed"]
    assert student[str(settings["seed"])] == max(student.values())  # the seed chosen on dev
    card = (folder / "README.md").read_text()
    metadata = front_matter(card)
    assert metadata["pipeline_tag"] == "text-classification"
    [result] = metadata["model-index"][0]["results"]
    assert result["metrics"][0]["type"] == "accuracy" and 0 <= result["metrics"][0]["value"] <= 1
    for fragment in ("test accuracy", "single-text latency", "parameters", "## Usage", "data/compare/report.md"):
        assert fragment in card
    # The smallest copy the dev gate let through ships (trimmed int8, int8), else fp32; the card says which and why.
    verdict, tried = settings["compression"], settings["compression_tried"]
    assert [t["model"] for t in tried] == ["model.trimmed.int8.onnx", "model.int8.onnx"][: len(tried)]
    assert all(not t["compressed_ships"] for t in tried[:-1]) and verdict == tried[-1]
    assert settings["model"] == (verdict["model"] if verdict["compressed_ships"] else "model.onnx")
    assert [p.name for p in folder.glob("*.onnx")] == [settings["model"]]
    assert verdict["reason"] in card and "trimmed to the" in tried[0]["reason"]


def test_the_transformer_export_loads_in_a_transformers_pipeline_and_agrees_with_predict(
    reproduced: tuple[Path, str],
) -> None:
    from transformers import pipeline

    from distillery.export.predict import Classifier

    folder = reproduced[0] / "data/export/transformer"
    texts = pq.read_table(reproduced[0] / "data/prepared/test.parquet")["text"].to_pylist()
    classify = pipeline("text-classification", model=str(folder), device="cpu")
    labels = [row["label"] for row in classify(texts, truncation=True)]
    served = Classifier(folder)
    predicted = [served.labels[i] for i in served.logits(texts).argmax(axis=1)]
    agreement = np.mean([a == b for a, b in zip(labels, predicted, strict=True)])
    # fp32 weights against the served ONNX file (int8 where the dev gate let it ship): the same model
    assert agreement == 1.0 if served.config["model"] == "model.onnx" else agreement >= 0.9
    on_dev = served.config["compression"]["agreement"]
    card = (folder / "README.md").read_text()
    assert "runs its float32 weights" in card
    assert "as `predict.py` does" in card if served.config["model"] == "model.onnx" else f"{on_dev:.1%} of dev" in card


def test_the_bag_onnx_through_predict_matches_the_torch_student(reproduced: tuple[Path, str]) -> None:
    from distillery.export.predict import Classifier
    from distillery.students.bag import load_student, predict

    project = reproduced[0]
    config = json.loads((project / EXPORT / "config.json").read_text())["distillery"]
    bag = load_student(project / f"data/bag/student/models/seed_{config['seed']}.safetensors")
    tokenized = pq.read_table(project / "data/tokenized/test.parquet")
    texts = pq.read_table(project / "data/prepared/test.parquet")["text"].to_pylist()

    served = Classifier(project / EXPORT).logits(texts)
    reference = predict(bag, bag.pack(tokenized["full_ids"])).numpy()

    if config["model"] == "model.onnx":  # float32 shipped: the same logits
        assert np.abs(served - reference).max() <= 1e-4
        assert (served.argmax(axis=1) == reference.argmax(axis=1)).all()
    else:  # int8 passed the dev gate: close, and nearly always the same prediction
        assert np.abs(served - reference).max() <= 0.1 * np.abs(reference).max()
        assert (served.argmax(axis=1) == reference.argmax(axis=1)).mean() >= 0.9


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
        (["old", "text"], ["older version of distillery", "export it again"]),
        (["incomplete", "text"], [".onnx there", "export it again"]),
        (["model", "--input", "latin1.csv"], ["--input 'latin1.csv': not utf-8 text", "--encoding"]),
        (["model", "--input", "unquoted.csv"], ["--input 'unquoted.csv'", "more fields than its header", "quote"]),
    ],
)
def test_predict_bad_input_is_one_clear_line(outside: Path, args: list[str], expected: list[str]) -> None:
    pd.DataFrame({"body": ["fine"]}).to_csv(outside / "texts.csv", index=False)
    (outside / "latin1.csv").write_bytes("text\nun film très émouvant\n".encode("latin-1"))
    (outside / "unquoted.csv").write_text("text\na gorgeous, moving film\na dull, lifeless sequel\n")
    shutil.copytree(outside / "model", outside / "old")  # as the export stage wrote it before config.json's entry
    config = json.loads((outside / "old/config.json").read_text())
    (outside / "old/config.json").write_text(json.dumps(config["distillery"]))
    shutil.copytree(outside / "model", outside / "incomplete")
    (outside / "incomplete" / config["distillery"]["model"]).unlink()  # the ONNX file it serves
    result = predict_cli(outside, *args)
    assert result.returncode == 2
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("error: ") and "Traceback" not in result.stderr
    for fragment in expected:
        assert fragment in message, message


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_predict_serves_every_architecture_outside_the_repo(
    reproduced: tuple[Path, str], tmp_path: Path, arch: str
) -> None:
    shutil.copytree(reproduced[0] / f"data/export/{arch}", tmp_path / "model")
    (tmp_path / "tool").mkdir()
    shutil.move(tmp_path / "model/predict.py", tmp_path / "tool/predict.py")
    long_text = " ".join(["the plot was good"] * 40)  # past the encoders' window of 32 tokens (TINY_PARAMS)
    texts = ["a great moving film", "", long_text, "awful boring plot"]
    result = predict_cli(tmp_path, "model", *texts)
    assert result.returncode == 0, result.stderr
    assert [row["text"] for row in rows(result.stdout)] == texts
    assert "1 empty texts" in result.stderr
    if arch != "bag":  # the bag reads the whole text
        assert "1 texts longer than the model's window (32 tokens) were cut" in result.stderr


# Loaded into the export stage through PYTHONPATH: ONNX Runtime's quantizer then writes a damaged int8
# model, its logits negated (every prediction of a two-class model flipped), as a broken quantization might.
DAMAGE_QUANTIZATION = """
import sys
if sys.argv and sys.argv[0].startswith("stages/"):
    import onnx
    import onnxruntime.quantization as quantization
    _quantize = quantization.quantize_dynamic
    def _damaged(model_input, model_output, **kwargs):
        _quantize(model_input, model_output, **kwargs)
        model = onnx.load(str(model_output))
        producer = next(node for node in model.graph.node if "logits" in node.output)
        producer.output[list(producer.output).index("logits")] = "logits_before_damage"
        model.graph.node.append(onnx.helper.make_node("Neg", ["logits_before_damage"], ["logits"]))
        onnx.save(model, str(model_output))
    quantization.quantize_dynamic = _damaged
"""


def test_a_damaged_quantization_is_refused_and_float32_ships_with_the_reason(
    reproduced_copy: Path, tmp_path: Path
) -> None:
    (tmp_path / "inject").mkdir()
    (tmp_path / "inject/sitecustomize.py").write_text(DAMAGE_QUANTIZATION)
    env = project_env(reproduced_copy)
    env["PYTHONPATH"] = f"{tmp_path / 'inject'}{os.pathsep}{env['PYTHONPATH']}"
    command = ["dvc", "repro", "--force", "--single-item", "export@transformer"]
    result = subprocess.run(command, cwd=reproduced_copy, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    folder = reproduced_copy / "data/export/transformer"
    verdict = json.loads((folder / "config.json").read_text())["distillery"]["compression"]
    assert not verdict["compressed_ships"] and verdict["compressed_dev"] < verdict["fp32_dev"]
    assert "int8 lost" in verdict["reason"]
    assert sorted(p.name for p in folder.glob("*.onnx")) == ["model.onnx"]
    card = (folder / "README.md").read_text()
    assert "float32 ships: int8 lost" in card


def test_predict_reads_a_file_in_another_encoding_when_told(outside: Path) -> None:
    (outside / "latin1.csv").write_bytes("text\nun film très émouvant\n".encode("latin-1"))
    result = predict_cli(outside, "model", "--input", "latin1.csv", "--encoding", "latin-1")
    assert result.returncode == 0, result.stderr
    assert [row["text"] for row in rows(result.stdout)] == ["un film très émouvant"]
