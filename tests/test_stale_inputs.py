"""No stale results: files DVC cannot see by path alone (a data file anywhere, a local teacher) are dependencies."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import ran_stages, run, update_params

# The stages that read the pre-trained teacher.model itself: its tokenizer, its weights to fine-tune,
# (for the twins and the BiLSTM's word embeddings) the layers the students start from, and SetFit's
# body (the tests name the teacher's folder).
TEACHER_READERS = {"tokenize_texts", "train_teacher", "augment", "pool", "tune_setfit"} | {
    f"{stage}@{arch}" for stage in ("distil", "twin") for arch in ("transformer", "bilstm")
}
TEACHER_READERS |= {f"tokenize_student@{arch}" for arch in ("bag", "transformer", "bilstm")}  # the mask token


def stale_stages(project: Path) -> dict[str, list]:
    return json.loads(run(["dvc", "status", "--json"], project).stdout)


def test_a_data_file_outside_the_project_is_a_dependency_of_prepare(reproduced_copy: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere" / "reviews.csv"
    outside.parent.mkdir()
    shutil.copy(reproduced_copy / "data/raw/reviews.csv", outside)
    update_params(reproduced_copy, {"data": {"source": str(outside)}})
    output = run(["dvc", "repro"], reproduced_copy).stdout
    # The same bytes: prepare's outputs, and all after, are unchanged; the model card names the source.
    # compare follows: it scores the export folders, whose model cards changed.
    assert sorted(ran_stages(output)) == ["compare", "export@bag", "export@bilstm", "export@transformer", "prepare"]

    outside.write_text(outside.read_text().replace("great", "grand", 1))

    stale = stale_stages(reproduced_copy)
    assert {"changed deps": {str(outside): "modified"}} in stale["prepare"]


def test_replacing_a_local_teachers_weights_reruns_the_stages_that_read_it(reproduced_copy: Path) -> None:
    weights = reproduced_copy / "models/tiny-bert/model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # one bit of the last weight: still a valid file, a different teacher
    weights.write_bytes(bytes(data))

    output = run(["dvc", "repro", "--single-item", "teacher_source"], reproduced_copy).stdout
    assert "Running stage 'teacher_source'" in output

    stale = stale_stages(reproduced_copy)
    assert {
        stage for stage, changes in stale.items() if {"changed deps": {"data/teacher_source": "modified"}} in changes
    } == TEACHER_READERS
    assert "prepare" not in stale


def test_rewriting_a_teacher_file_with_the_same_bytes_reruns_nothing(reproduced_copy: Path) -> None:
    config = reproduced_copy / "models/tiny-bert/config.json"
    config.write_bytes(config.read_bytes())  # a new mtime, the same content

    output = run(["dvc", "repro"], reproduced_copy).stdout

    assert "Running stage 'teacher_source'" in output
    assert ran_stages(output) == []
