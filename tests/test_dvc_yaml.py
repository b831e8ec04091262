"""dvc.yaml is kept honest: each stage lists exactly the package modules it runs and the params it reads.

A module missing from a stage's deps leaves its results stale after an edit; a needless one re-runs it
for nothing. The same goes for params. Modules are found from the stage script's imports
(tests/stage_imports.py); params from what each stage of the tiny pipeline run actually read.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import yaml
from stage_imports import ROOT, stage_modules

from conftest import ALWAYS_RUNS
from distillery.core import paths


def expanded_stages(project: Path = ROOT) -> dict[str, dict]:
    """dvc.yaml's stages with each matrix stage expanded into `name@item`, `${item.x}` filled in."""
    stages = {}
    for name, definition in yaml.safe_load((project / "dvc.yaml").read_text())["stages"].items():
        if "matrix" not in definition:
            stages[name] = definition
            continue
        (key, items), *others = definition["matrix"].items()
        assert not others, f"{name}: one matrix key is supported here"
        for item in items:
            text = yaml.safe_dump({k: v for k, v in definition.items() if k != "matrix"})
            stages[f"{name}@{item}"] = yaml.safe_load(text.replace(f"${{item.{key}}}", item))
    return stages


STAGES = expanded_stages()


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_each_stage_lists_exactly_the_modules_it_runs(stage: str) -> None:
    definition = STAGES[stage]
    script, *arguments = shlex.split(definition["cmd"])[1:]
    assert script == f"stages/{stage.split('@')[0]}.py", f"{stage} runs {script}: a stage's script is named like it"
    declared = {dep for dep in definition["deps"] if dep.startswith(("stages/", "src/"))}
    needed = {script} | {path.relative_to(ROOT).as_posix() for path in stage_modules(ROOT / script, arguments)}
    missing, needless = sorted(needed - declared), sorted(declared - needed)
    assert not missing and not needless, f"dvc.yaml, stage {stage}: missing deps {missing}; needless deps {needless}"


def test_stages_holds_only_the_stage_entry_points() -> None:
    scripts = {path.stem for path in (ROOT / "stages").glob("*.py")}
    assert scripts == {stage.split("@")[0] for stage in STAGES}


def test_the_package_init_files_are_empty() -> None:
    """They are imported by every stage but never listed as deps: code in one would escape the check above."""
    inits = [path for path in (ROOT / "src/distillery").rglob("__init__.py") if path.read_text().strip()]
    assert not inits


def test_dvc_yaml_outputs_are_the_package_paths() -> None:
    """The paths the stages write (distillery.core.paths) are the outs dvc.yaml declares for them."""
    outs = {out for definition in STAGES.values() for out in definition.get("outs", [])}
    for arch in paths.ARCHITECTURES:
        assert paths.student_tokens(arch).as_posix() in outs
        for role in paths.ROLES:
            assert paths.trained(arch, role).as_posix() in outs
    for path in (paths.PREPARED, paths.TOKENIZED, paths.TEACHER, paths.AUGMENTED, paths.HIDDEN):
        assert path.as_posix() in outs
    for split in paths.SPLITS:
        assert paths.logits(split).as_posix() in outs
    assert paths.TRANSFER_LOGITS.as_posix() in outs


def covers(declared: str, read: str) -> bool:
    return read == declared or read.startswith(f"{declared}.") or declared.startswith(f"{read}.")


@pytest.mark.pipeline
def test_each_stage_lists_exactly_the_params_it_reads(reproduced: tuple[Path, str]) -> None:
    project, _ = reproduced
    by_command = {tuple(shlex.split(d["cmd"])[1:]): name for name, d in expanded_stages(project).items()}
    reads: dict[str, set[str]] = {}
    for line in (project.parent / "params-read.jsonl").read_text().splitlines():
        record = json.loads(line)
        reads.setdefault(by_command[tuple(record["argv"])], set()).update(record["reads"])
    assert set(reads) == {name for name in STAGES if name != "example_data"}  # example_data reads none
    for stage, read in sorted(reads.items()):
        declared = [re.sub(r"^\$\{(.*)\}$", r"\1", entry) for entry in STAGES[stage].get("params", [])]
        missing = sorted(key for key in read if not any(covers(entry, key) for entry in declared))
        needless = sorted(entry for entry in declared if not any(covers(entry, key) for key in read))
        assert not missing and not needless, f"dvc.yaml, stage {stage}: missing params {missing}; needless {needless}"
    assert ALWAYS_RUNS <= set(reads)


def test_nothing_inserts_into_sys_path() -> None:
    """The package is installed (editable) by make: no script or test reaches code by editing sys.path."""
    python_files = [*ROOT.glob("stages/*.py"), *ROOT.glob("benchmarks/*.py"), *ROOT.glob("tests/*.py")]
    python_files += list((ROOT / "src").rglob("*.py"))
    needle = "sys.path." + "insert"
    assert not [path.name for path in python_files if needle in path.read_text(encoding="utf-8")]
