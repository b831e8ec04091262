"""Students with a backbone of their own: a model other than the teacher, read with its own tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import build_tiny_teacher, fails_cleanly, make_project, ran_stages, run, update_params

OWN = "./models/own-bert"


def build_own_model(directory: Path) -> Path:
    """A tiny BERT unlike the teacher: 24 wide, 3 layers, its vocabulary in another order (other ids)."""
    import torch

    torch.manual_seed(1)
    return build_tiny_teacher(directory, width=24, layers=3, reverse_vocabulary=True)


OWN_BACKBONES = {
    "transformer": {"model": {"init": OWN, "layers": [0, 2]}, "beta": 0.0},
    "bilstm": {"model": {"embeddings": OWN, "width": 8, "hidden": 8, "mlp": 8}},
    "bag": {"model": {"tokenizer": OWN, "vectors": "random"}},
}


@pytest.fixture(scope="module")
def own_project(tmp_path_factory: pytest.TempPathFactory, tiny_teacher: Path) -> tuple[Path, str]:
    project = make_project(tmp_path_factory.mktemp("own") / "project", tiny_teacher)
    build_own_model(project / OWN)
    update_params(project, OWN_BACKBONES)
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-q", "-m", "own backbones"], project)
    return project, run(["dvc", "repro"], project).stdout


def test_each_student_reads_its_own_tokenizers_ids_row_for_row(own_project: tuple[Path, str]) -> None:
    project, _ = own_project
    for arch in ("bag", "transformer", "bilstm"):
        folder = project / "data/tokens" / arch
        assert json.loads((folder / "source.json").read_text())["backbone"] == OWN
        for split in ("train", "dev", "test"):
            own, teachers = (
                pq.read_table(folder / f"{split}.parquet"),
                pq.read_table(project / f"data/tokenized/{split}.parquet"),
            )
            assert own["id"] == teachers["id"] and own["label"] == teachers["label"]
            assert own["input_ids"] != teachers["input_ids"]  # another vocabulary order: other ids
        for name, teachers in (("transfer", "data/augmented/transfer.parquet"), ("pool", "data/pool/pool.parquet")):
            assert pq.read_table(folder / f"{name}.parquet")["id"] == pq.read_table(project / teachers)["id"]


def test_the_students_start_from_their_own_model_and_ship_its_tokenizer(own_project: tuple[Path, str]) -> None:
    from transformers import AutoConfig

    project, _ = own_project
    for role in ("student", "twin"):
        config = AutoConfig.from_pretrained(project / f"data/transformer/{role}/models/seed_7")
        assert (config.hidden_size, config.num_hidden_layers) == (24, 2)
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    own_vocab = AutoTokenizer.from_pretrained(project / OWN).get_vocab()
    for arch in ("bag", "transformer", "bilstm"):
        export = project / "data/export" / arch
        assert Tokenizer.from_file(str(export / "tokenizer.json")).get_vocab() == own_vocab
        answer = run(["python", "predict.py", ".", "a great and moving film"], export).stdout
        assert json.loads(answer.splitlines()[0])["label"] in ("neg", "pos")
    assert "`./models/own-bert`'s tokenizer" in (project / "data/export/transformer/README.md").read_text()
    report = (project / "data/compare/report.md").read_text()
    assert "layers [0, 2] of `./models/own-bert` (student and twin, its tokenizer)" in report
    assert "one BiLSTM layer over `./models/own-bert`'s (its tokenizer) word embeddings" in report
    assert "lr 0.8, `./models/own-bert`'s tokenizer, dim 16" in report


def test_a_hidden_state_loss_across_widths_is_refused(own_project: tuple[Path, str]) -> None:
    project, _ = own_project
    update_params(project, {"transformer": OWN_BACKBONES["transformer"] | {"beta": 0.5}})
    try:
        fails_cleanly(
            project, "distil.py transformer", "'transformer.beta'", "the student is 24 wide and the teacher 32"
        )
    finally:
        update_params(project, {"transformer": OWN_BACKBONES["transformer"]})


def test_a_tokenizer_without_padding_or_layers_outside_the_model_are_refused(tmp_path: Path) -> None:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from distillery.core.errors import DistilleryError
    from distillery.students.backbones import check_tokenizer
    from distillery.students.transformer import cut_layers

    own = build_own_model(tmp_path / "own")
    tokenizer = AutoTokenizer.from_pretrained(own)
    check_tokenizer(tokenizer, "own", "bag.model.tokenizer")
    tokenizer.pad_token = None
    with pytest.raises(DistilleryError, match="bag.model.tokenizer: the tokenizer of 'own' has no pad token"):
        check_tokenizer(tokenizer, "own", "bag.model.tokenizer")
    model = AutoModelForSequenceClassification.from_pretrained(own, num_labels=2)
    with pytest.raises(DistilleryError, match="must list layers of 'own', 0 to 2"):
        cut_layers(model, [3], "own", "transformer.model.init")
    assert cut_layers(model, None, "own", "transformer.model.init") is model


def test_changing_a_students_backbone_reruns_no_teacher_stage(own_project: tuple[Path, str]) -> None:
    project, _ = own_project
    output = run(
        ["dvc", "exp", "run", "-S", "transformer.model.init=teacher", "-S", "transformer.model.layers=[1]"], project
    ).stdout
    assert sorted(ran_stages(output)) == [
        "compare",
        "distil@transformer",
        "export@transformer",
        "tokenize_student@transformer",
        "twin@transformer",
    ]


@pytest.mark.parametrize(
    ("changes", "stage", "expected"),
    [
        (
            {"transformer": {"model": {"init": "./models/nope"}}},
            "tokenize_student.py transformer",
            "transformer.model.init: './models/nope' is not a model directory",
        ),
        (
            {"bilstm": {"model": {"embeddings": 3}}},
            "tokenize_student.py bilstm",
            "'bilstm.model.embeddings' must be teacher or a model reference",
        ),
    ],
)
def test_a_backbone_that_cannot_be_loaded_is_one_clear_line(
    project: Path, changes: dict, stage: str, expected: str
) -> None:
    run(["python", "stages/prepare.py"], project)
    update_params(project, changes)
    fails_cleanly(project, stage, expected)
