"""Faults: a stage killed with SIGKILL, then `dvc repro`, gives what an uninterrupted run gives."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from conftest import ALWAYS_RUNS, make_project, project_env, run
from distillery.project import stage_outputs


def start(cmd: list[str], cwd: Path) -> subprocess.Popen:
    """Start a command in its own process group, so that SIGKILL reaches DVC and the stage beneath it."""
    return subprocess.Popen(
        cmd, cwd=cwd, env=project_env(cwd), start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def kill_when(process: subprocess.Popen, ready: Callable[[], bool], timeout: float = 300) -> bool:
    """SIGKILL the process group as soon as `ready()` holds; False if the process ended first."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        if ready():
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.005)
    process.wait()
    return False


def was_killed(output: str) -> bool:
    """DVC reports a SIGKILLed command as "exited with -9", or with 137 when its shell ($SHELL, else /bin/sh)
    ran the command in a child and exited with 128 + 9 itself."""
    return re.search(r"exited with (-9|137)\b", output) is not None


def scratch_folders(project: Path) -> list[Path]:
    """Hidden folders in the project's data folder: what a stage killed while writing could leave."""
    return [path for path in (project / "data").rglob(".*") if path.is_dir()]


def assert_clean(project: Path, *stages: str) -> None:
    """No scratch folders, no checkpoints, and `dvc status` (of `stages`, or all) has nothing to re-run."""
    assert scratch_folders(project) == []
    assert not (project / ".checkpoints").exists()
    changed = json.loads(run(["dvc", "status", "--json", *stages], project).stdout)
    assert {stage: why for stage, why in changed.items() if stage not in ALWAYS_RUNS} == {}


# Loaded into every Python process of the run through PYTHONPATH; it acts only in a stage script, which it
# SIGKILLs as that stage moves its KILL_AT_MOVE-th output file from its scratch folder into place.
KILL_ON_MOVE = """
import os, signal, sys
if sys.argv and sys.argv[0].startswith("stages/"):
    _rename, _moves = os.rename, []
    def _rename_then_die(source, target, *args, **kwargs):
        if "distillery-" in str(source):
            _moves.append(target)
            if len(_moves) == int(os.environ["KILL_AT_MOVE"]):
                os.kill(os.getpid(), signal.SIGKILL)
        return _rename(source, target, *args, **kwargs)
    os.rename = _rename_then_die
"""

# Stages killed while moving their outputs into place, the worst moment since part of the output may
# already be there, and at which file: the first, or a later one. One of each kind of stage (several
# files into a folder, files next to another stage's, the compiled student, the report) keeps this quick.
KILLED_WHILE_WRITING = {"prepare": 3, "teacher_logits": 2, "distil_bag": 2, "compare": 2}


@pytest.mark.parametrize(("stage", "move"), KILLED_WHILE_WRITING.items())
def test_a_stage_killed_while_writing_reruns_to_the_same_outputs(
    reproduced: tuple[Path, str], tmp_path: Path, stage: str, move: int
) -> None:
    reference = reproduced[0]
    project = Path(shutil.copytree(reference, tmp_path / "copy", symlinks=True))
    (tmp_path / "inject").mkdir()
    (tmp_path / "inject/sitecustomize.py").write_text(KILL_ON_MOVE)
    env = project_env(project, KILL_AT_MOVE=str(move))
    env["PYTHONPATH"] = f"{tmp_path / 'inject'}{os.pathsep}{env['PYTHONPATH']}"
    killed = subprocess.run(
        ["dvc", "repro", "--force", "--single-item", stage], cwd=project, env=env, capture_output=True, text=True
    )
    assert killed.returncode != 0 and was_killed(killed.stdout + killed.stderr), killed.stdout + killed.stderr

    run(["dvc", "repro"], project)

    assert stage_outputs(project, stage) == stage_outputs(reference, stage)
    assert_clean(project)


def test_a_killed_teacher_resumes_from_its_checkpoint(
    reproduced: tuple[Path, str], tmp_path: Path, tiny_teacher: Path
) -> None:
    """A first run SIGKILLed mid-training; `dvc repro` resumes from the last checkpoint and ends byte-identical."""
    project = make_project(tmp_path / "project", tiny_teacher)
    run(["dvc", "repro", "tokenize_texts"], project)
    process = start(["dvc", "repro", "train_teacher"], project)

    def mid_training() -> bool:  # 4 epochs of about 11 steps; a checkpoint every 3 steps (TINY_PARAMS)
        return any((project / ".checkpoints").glob("train_teacher-*/checkpoint-6/trainer_state.json"))

    assert kill_when(process, mid_training), "train_teacher finished before it was killed"
    assert not (project / "data/teacher").exists()

    output = run(["dvc", "repro", "train_teacher"], project).stdout

    assert "train_teacher: resuming from .checkpoints/train_teacher-" in output
    assert stage_outputs(project, "train_teacher") == stage_outputs(reproduced[0], "train_teacher")
    assert_clean(project, "train_teacher")


def test_a_checkpoint_from_other_inputs_is_never_resumed(reproduced: tuple[Path, str], tmp_path: Path) -> None:
    from distillery.teacher.checkpoints import inputs_key

    project = Path(shutil.copytree(reproduced[0], tmp_path / "copy", symlinks=True))
    params = yaml.safe_load((project / "params.yaml").read_text())
    before = inputs_key("train_teacher", params, project)
    lr = params["teacher"]["lr"]
    params["teacher"]["lr"] = lr * 2
    assert inputs_key("train_teacher", params, project) != before
    params["teacher"]["lr"] = lr
    assert inputs_key("train_teacher", params, project) == before
    with (project / "data/tokenized/train.parquet").open("ab") as file:
        file.write(b"\0")
    assert inputs_key("train_teacher", params, project) != before


def test_a_teacher_killed_before_its_first_checkpoint_starts_over(tmp_path: Path, tiny_teacher: Path) -> None:
    project = make_project(tmp_path / "project", tiny_teacher)
    run(["dvc", "repro", "tokenize_texts"], project)
    process = start(["dvc", "repro", "train_teacher"], project)
    assert kill_when(process, lambda: (project / ".checkpoints").exists())

    output = run(["dvc", "repro", "train_teacher"], project).stdout

    assert "resuming" not in output
    assert (project / "data/teacher/model.safetensors").is_file()
    assert not (project / ".checkpoints").exists()
