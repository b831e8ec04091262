"""The DVC promises: experiments re-run only what they must, outputs are byte-identical, the run cache
and remotes (a directory, and a real S3-compatible server on loopback) share the teacher's work."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from conftest import (
    DISTILLED_ENCODERS,
    ENCODER_EXPORTS,
    ENCODER_TWINS,
    ROOT,
    STAGES,
    STUDENT_INPUTS,
    STUDENT_SIDE,
    TEACHER_SIDE,
    TUNED_BASELINES,
    make_project,
    ran_stages,
    run,
    update_params,
)


def skipped_unchanged(output: str) -> list[str]:
    return [stage for stage in STAGES if f"Stage '{stage}' didn't change, skipping" in output]


def test_lr_experiment_reruns_only_the_student_side(reproduced_copy: Path) -> None:
    output = run(["dvc", "exp", "run", "-S", "lr=0.5"], reproduced_copy).stdout
    assert sorted(ran_stages(output)) == sorted(STUDENT_SIDE)
    assert sorted(skipped_unchanged(output)) == sorted(
        TEACHER_SIDE + STUDENT_INPUTS + TUNED_BASELINES + DISTILLED_ENCODERS + ENCODER_TWINS + ENCODER_EXPORTS
    )


def would_run(project: Path, *settings: str) -> list[str]:
    """The stages a changed param would run because they read it: params.yaml edited as `-S` would edit
    it, then DVC's own dry run (seconds, where a real run takes a minute; what then re-runs downstream
    is DVC's to decide, shown by the real experiments in this file), then params.yaml restored."""
    params_file = project / "params.yaml"
    original = params_file.read_text()
    params = yaml.safe_load(original)
    for setting in settings:
        dotted, value = setting.split("=", 1)
        *sections, key = dotted.split(".")
        node = params
        for section in sections:
            node = node[section]
        node[key] = yaml.safe_load(value)
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        return sorted(ran_stages(run(["dvc", "repro", "--dry"], project).stdout))
    finally:
        params_file.write_text(original)


def test_a_student_only_param_leaves_the_twin_alone(reproduced_copy: Path) -> None:
    assert would_run(reproduced_copy, "bag.loss=mse") == ["compare", "distil_bag", "export@bag"]


def test_an_architecture_param_reruns_only_that_architecture(reproduced_copy: Path) -> None:
    # export@ARCH reads its section too: its model card says what the student was made with.
    transformer = ["compare", "distil@transformer", "export@transformer"]
    assert would_run(reproduced_copy, "transformer.lr=0.002") == [*transformer, "twin@transformer"]
    assert would_run(reproduced_copy, "bilstm.temperature=2.0") == ["compare", "distil@bilstm", "export@bilstm"]
    assert would_run(reproduced_copy, "transformer.transfer=0.5") == transformer


def test_a_teacher_param_reruns_the_teacher_alone_and_nothing_upstream(reproduced_copy: Path) -> None:
    assert would_run(reproduced_copy, "teacher.lr=0.002") == ["train_teacher"]


def test_the_twins_and_baselines_never_see_the_teacher() -> None:
    """What a changed teacher re-runs downstream follows dvc.yaml's deps: neither the twins nor the baselines
    read the fine-tuned teacher or anything it wrote (a twin reads teacher_source: which pre-trained
    checkpoint teacher.model names, not the fine-tuned teacher). The bag's twin starts from bag_vectors'
    table, as its student does: with `bag.model.vectors: static` and the teacher's tokenizer that table comes
    from the teacher as trained, by design, so that the pair still differs only in the logits."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    teachers_outputs = ("data/teacher", "data/logits", "data/hidden", "data/augmented")
    for name in ["twin_bag", "twin", *TUNED_BASELINES, "train_fasttext"]:
        seen = [
            dep for dep in stages[name]["deps"] if dep.split("/")[:2] in [out.split("/") for out in teachers_outputs]
        ]
        assert not seen, f"{name} depends on {seen}"
    assert "data/augmented" not in stages["teacher_logits"]["deps"]


def test_an_inference_precision_rescores_without_retraining_the_teacher(reproduced_copy: Path) -> None:
    """The precision is read by the three labelling stages and compare, not by train_teacher: from the
    default (int8 on this CPU) to fp32, the labelling stages re-score (then every student trained on their
    logits follows, as DVC decides), deterministically. (This project's pool is empty: nothing to re-score.)"""
    project = reproduced_copy
    expected = ["compare", "pool_logits", "teacher_logits", "transfer_logits"]
    assert would_run(project, "teacher.infer_precision=fp32") == expected

    def logits_md5() -> dict[str, str]:
        scored = [path for path in lock_outs(project) if path.startswith("data/logits") and "pool" not in path]
        return {path: lock_outs(project)[path] for path in scored}

    default = logits_md5()
    update_params(project, {"teacher": {"infer_precision": "fp32"}})
    output = run(["dvc", "repro", "--single-item", "teacher_logits", "transfer_logits"], project).stdout
    assert sorted(ran_stages(output)) == ["teacher_logits", "transfer_logits"]
    assert "(fp32)" in output
    fp32 = logits_md5()
    assert len(fp32) == 4 and all(fp32[path] != default[path] for path in fp32)
    # Deterministic for a given precision: scoring again gives the same bytes.
    run(["dvc", "repro", "--force", "--single-item", "teacher_logits", "transfer_logits"], project)
    assert logits_md5() == fp32


def test_a_baseline_grid_reruns_only_that_baseline(reproduced_copy: Path) -> None:
    assert would_run(reproduced_copy, "baselines.sklearn_grid.C=[0.5,2.0]") == ["tune_sklearn"]


def test_an_augment_param_relabels_only_the_transfer_set(reproduced_copy: Path) -> None:
    """augment alone reads it; teacher_logits does not depend on the transfer set (above), so only
    transfer_logits and the stages that read the transfer set follow."""
    assert would_run(reproduced_copy, "augment.p_ng=0.5") == ["augment"]


def test_a_data_param_reruns_prepare_and_stops_where_its_outputs_match(reproduced_copy: Path) -> None:
    """A cap above the data set's 240 rows re-runs prepare, which writes the same bytes: DVC goes no further."""
    before = lock_outs(reproduced_copy)
    output = run(["dvc", "exp", "run", "-S", "data.max_examples=100000"], reproduced_copy).stdout
    assert ran_stages(output) == ["prepare"]
    assert sorted(skipped_unchanged(output)) == sorted(set(STAGES) - {"prepare"})
    assert lock_outs(reproduced_copy) == before


def lock_outs(project: Path) -> dict[str, str]:
    """Every output's md5 in dvc.lock, by path."""
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    return {out["path"]: out["md5"] for stage in lock["stages"].values() for out in stage.get("outs", [])}


TIMED = ["data/compare/metrics.json", "data/fasttext", "data/fasttext_tuned", "data/sklearn"]


def output_files(project: Path) -> dict[str, bytes]:
    """Every file of every stage output in dvc.lock, by path."""
    files = {}
    for out in lock_outs(project):
        target = project / out
        for path in sorted(target.rglob("*")) if target.is_dir() else [target]:
            if path.is_file():
                files[str(path.relative_to(project))] = path.read_bytes()
    return files


def test_a_second_project_with_shuffled_test_labels_trains_byte_identical_models(
    reproduced: tuple[Path, str], tmp_path: Path, tiny_teacher: Path
) -> None:
    """Two properties, one run from scratch: the same params give the same bytes (a teammate's cache is
    reusable), and test labels are scored but never choose (shuffle them, and only test figures move).

    The second project shuffles its test labels after `prepare`. Every model, every kept epoch, every
    dev score and every baseline setting must then match the first project's byte for byte; what may
    differ is a file that holds test labels or test scores, or a time measured on the clock.
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    second = make_project(tmp_path / "second", tiny_teacher)
    run(["dvc", "repro", "prepare"], second)
    path = second / "data/prepared/test.parquet"
    test = pq.read_table(path)
    shuffled = np.random.default_rng(0).permutation(test["label"].to_numpy())
    assert (shuffled != test["label"].to_numpy()).sum() > 10
    pq.write_table(test.set_column(test.schema.get_field_index("label"), "label", pa.array(shuffled, pa.int64())), path)
    run(["dvc", "commit", "-f", "prepare"], second)
    run(["dvc", "repro"], second)

    first_files, second_files = output_files(reproduced[0]), output_files(second)
    assert first_files.keys() == second_files.keys()
    test_labelled = {"data/prepared/test.parquet", "data/tokenized/test.parquet"}
    clocked = {"data/compare/", *(f"data/export/{arch}/README.md" for arch in ("bag", "bilstm", "transformer"))}
    baselines = {f"{folder}/metrics.json" for folder in TIMED[1:]}  # test scores, training time
    differing = []
    for name, content in first_files.items():
        if name in test_labelled or name.startswith(tuple(clocked)) or content == second_files[name]:
            continue
        if name.endswith("history.csv"):  # per-epoch train, dev and test figures: all but test must match
            first_history, second_history = (pd.read_csv(project / name) for project in (reproduced[0], second))
            kept = [column for column in first_history.columns if not column.startswith("test_")]
            if first_history[kept].equals(second_history[kept]):
                continue
        elif name in baselines:
            first_metrics, second_metrics = (json.loads(files[name]) for files in (first_files, second_files))
            if all(first_metrics.get(key) == second_metrics.get(key) for key in ("chosen", "trials", "settings")):
                continue
        differing.append(name)
    assert differing == []
    summary = "data/compare/summary.json"
    assert first_files[summary] != second_files[summary]  # the test figures did move


def test_run_cache_restores_every_stage_without_running_it(reproduced_copy: Path) -> None:
    project = reproduced_copy
    for path in lock_outs(project):
        target = project / path
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    (project / "dvc.lock").unlink()
    output = run(["dvc", "repro"], project).stdout
    assert ran_stages(output) == []
    for stage in STAGES:
        assert f"Stage '{stage}' is cached - skipping run, checking out outputs" in output
    assert (project / "data/compare/report.md").exists()


def push_clone_pull(project: Path, clone: Path, configure_clone: list[list[str]] = ()) -> None:
    """Push outputs and run cache, clone the git repo elsewhere, pull there with an empty cache."""
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-q", "-m", "remote"], project)
    run(["dvc", "push", "--run-cache"], project)
    run(["git", "clone", "-q", str(project), str(clone)], project.parent)
    for command in configure_clone:
        run(command, clone)
    assert not (clone / ".dvc/cache").exists()
    run(["dvc", "pull", "--run-cache"], clone)


def test_directory_remote_shares_the_teacher(reproduced_copy: Path, tmp_path: Path) -> None:
    run(["dvc", "remote", "add", "-d", "shared", str(tmp_path / "remote")], reproduced_copy)
    clone = tmp_path / "clone"
    push_clone_pull(reproduced_copy, clone)
    assert (clone / "data/teacher/model.safetensors").exists()
    output = run(["dvc", "repro"], clone).stdout
    assert ran_stages(output) == [] and sorted(skipped_unchanged(output)) == sorted(STAGES)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def s3_server() -> Iterator[str]:
    """moto's standalone S3-compatible server, on loopback, for the length of one test."""
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.2)
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_s3_remote_round_trip_on_loopback(reproduced_copy: Path, tmp_path: Path, s3_server: str) -> None:
    import boto3

    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    s3 = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1", **credentials)
    s3.create_bucket(Bucket="distillery")

    def configure(project: Path) -> list[list[str]]:
        # Credentials go to .dvc/config.local, which git never sees.
        return [
            ["dvc", "remote", "modify", "--local", "s3", "access_key_id", "testing"],
            ["dvc", "remote", "modify", "--local", "s3", "secret_access_key", "testing"],
        ]

    run(["dvc", "remote", "add", "-d", "s3", "s3://distillery/cache"], reproduced_copy)
    run(["dvc", "remote", "modify", "s3", "endpointurl", s3_server], reproduced_copy)
    for command in configure(reproduced_copy):
        run(command, reproduced_copy)
    clone = tmp_path / "clone"
    push_clone_pull(reproduced_copy, clone, configure(clone))
    assert "testing" not in (clone / ".dvc/config").read_text()
    listed = s3.list_objects_v2(Bucket="distillery", Prefix="cache/")
    assert listed["KeyCount"] > 0
    status = run(["dvc", "status", "--cloud"], clone).stdout
    assert "in sync" in status
    output = run(["dvc", "repro"], clone).stdout
    assert ran_stages(output) == []


def test_queued_sweep_never_runs_the_teacher(reproduced_copy: Path) -> None:
    run(["dvc", "exp", "run", "--queue", "-S", "lr=0.1,1.0"], reproduced_copy)  # a grid of two is a sweep
    run(["dvc", "exp", "run", "--run-all", "--jobs", "1"], reproduced_copy)
    shown = json.loads(run(["dvc", "exp", "show", "--json"], reproduced_copy).stdout)
    experiments = [
        exp
        for baseline in shown
        for experiment in baseline.get("experiments") or []
        for exp in experiment.get("revs") or []
    ]
    assert len(experiments) == 2
    lrs = []
    for exp in experiments:
        data = exp["data"]
        lrs.append(data["params"]["params.yaml"]["data"]["lr"])
        assert list(data["metrics"]) == ["data/compare/summary.json"]
        assert 0 <= data["metrics"]["data/compare/summary.json"]["data"]["bag"] <= 1
        logs = run(["dvc", "queue", "logs", exp["name"]], reproduced_copy).stdout
        assert not set(ran_stages(logs)) & set(TEACHER_SIDE), logs
        assert "distil_bag" in ran_stages(logs)
    assert sorted(lrs) == [0.1, 1.0]
