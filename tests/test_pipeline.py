"""End to end: the real `dvc repro` on tiny data and a tiny random BERT, in a throwaway git repo."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import torch
import yaml

from conftest import STAGES, make_project, ran_stages, run, tiny_reviews, update_params
from distillery.report.titles import ARCH_TITLES


@pytest.fixture
def built(reproduced: tuple[Path, str]) -> tuple[Path, str]:
    return reproduced


def test_every_stage_runs_in_dag_order(built: tuple[Path, str]) -> None:
    _, output = built
    ran = ran_stages(output)
    assert sorted(ran) == sorted(STAGES)
    assert ran.index("prepare") < ran.index("tokenize_texts") < ran.index("train_teacher") < ran.index("teacher_logits")
    assert ran.index("augment") < ran.index("transfer_logits") < ran.index("distil_bag") < ran.index("compare")
    assert ran.index("teacher_logits") < ran.index("distil_bag")
    for baseline in ("twin_bag", "train_fasttext", "tune_fasttext", "tune_sklearn", "tune_setfit"):
        assert ran.index(baseline) < ran.index("compare")


def test_prepared_splits_are_balanced_with_stable_ids(built: tuple[Path, str]) -> None:
    project, _ = built
    splits = {name: pq.read_table(project / f"data/prepared/{name}.parquet") for name in ("train", "dev", "test")}
    for table in splits.values():
        assert table.column_names == ["id", "text", "label"]
        assert str(table.schema.field("label").type) == "int64"
    # 240 balanced rows: 48 to test, a tenth of the remaining 192 (10 per class, rounded) to dev.
    assert {name: table.num_rows for name, table in splits.items()} == {"train": 172, "dev": 20, "test": 48}
    assert sorted(splits["test"]["label"].to_pylist()).count(0) == 24
    assert sorted(splits["dev"]["label"].to_pylist()).count(0) == 10
    ids = [i for table in splits.values() for i in table["id"].to_pylist()]
    assert len(set(ids)) == len(ids) == 240
    stats = json.loads((project / "data/prepared/stats.json").read_text())
    assert (stats["train"], stats["dev"], stats["test"]) == (172, 20, 48)
    labels = json.loads((project / "data/prepared/labels.json").read_text())
    assert labels["labels"] == ["neg", "pos"]


def test_tokenized_ids_are_compact_lists(built: tuple[Path, str]) -> None:
    project, _ = built
    train = pq.read_table(project / "data/tokenized/train.parquet")
    assert train.column_names == ["id", "input_ids", "full_ids", "label"]
    assert str(train.schema.field("input_ids").type) == "list<element: int32>"
    lengths = {len(ids) for ids in train["input_ids"].to_pylist()}
    assert len(lengths) > 1, "ids must not be padded to one length on disk"
    assert max(lengths) <= 32


def test_teacher_records_its_epochs_and_keeps_the_best_on_dev(built: tuple[Path, str]) -> None:
    project, _ = built
    training = json.loads((project / "data/teacher/training.json").read_text())
    per_epoch = training["dev_accuracy_per_epoch"]
    assert 1 <= training["epochs_trained"] == len(per_epoch) <= 4
    assert training["best_epoch"] == 1 + per_epoch.index(max(per_epoch))
    dev = pq.read_table(project / "data/tokenized/dev.parquet")["label"].to_numpy()
    kept = pq.read_table(project / "data/logits/dev.parquet")["teacher_pred"].to_numpy()
    assert (kept == dev).mean() == pytest.approx(max(per_epoch))  # the logits come from the kept epoch


def test_teacher_stops_once_dev_accuracy_stops_improving(reproduced_copy: Path) -> None:
    update_params(reproduced_copy, {"teacher": {"epochs": 12, "patience": 1, "lr": 3.0e-3}})
    run(["python", "stages/train_teacher.py"], reproduced_copy)
    training = json.loads((reproduced_copy / "data/teacher/training.json").read_text())
    assert training["epochs_trained"] < 12, training  # the tiny task plateaus at perfect dev accuracy early
    assert training["epochs_trained"] == training["best_epoch"] + 1


def test_teacher_reloads_with_transformers(built: tuple[Path, str]) -> None:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    project, _ = built
    model = AutoModelForSequenceClassification.from_pretrained(project / "data/teacher")
    AutoTokenizer.from_pretrained(project / "data/teacher")
    assert model.config.id2label == {0: "neg", 1: "pos"}
    assert model.config.label2id == {"neg": 0, "pos": 1}


def test_logits_have_one_column_per_class(built: tuple[Path, str]) -> None:
    project, _ = built
    for split, rows in (("train", 172), ("dev", 20), ("test", 48)):
        logits = pq.read_table(project / f"data/logits/{split}.parquet")
        assert logits.column_names == ["id", "logit_0", "logit_1", "teacher_pred"]
        assert logits.num_rows == rows
        assert str(logits.schema.field("logit_0").type) == "float"
        tokenized = pq.read_table(project / f"data/tokenized/{split}.parquet")
        assert logits["id"].to_pylist() == tokenized["id"].to_pylist()


def test_transfer_set_is_new_tokenized_text_labelled_by_the_teacher(built: tuple[Path, str]) -> None:
    project, _ = built
    transfer = pq.read_table(project / "data/augmented/transfer.parquet")
    assert transfer.column_names == ["id", "text", "input_ids"]
    assert 172 < transfer.num_rows <= 2 * 172
    texts = transfer["text"].to_pylist()
    assert len(set(texts)) == len(texts)
    for split in ("train", "dev", "test"):
        assert not set(texts) & set(pq.read_table(project / f"data/prepared/{split}.parquet")["text"].to_pylist())
    assert any("[MASK]" in text for text in texts)
    logits = pq.read_table(project / "data/logits/transfer.parquet")
    assert logits["id"].to_pylist() == transfer["id"].to_pylist()
    assert logits.column_names == ["id", "logit_0", "logit_1", "teacher_pred"]


def test_bag_models_write_models_history_and_what_they_kept(built: tuple[Path, str]) -> None:
    from distillery.students.bag import load_student

    project, _ = built
    vocab = json.loads((project / "data/tokenized/vocab.json").read_text())
    assert vocab["frame_ids"] == [0, 2, 3]  # [PAD], [CLS], [SEP]: not [UNK] or [MASK], which stand for words
    student = json.loads((project / "data/bag/student/metrics.json").read_text())
    # params.yaml's bag.transfer, each tried on dev; bag.pool's 1.0 reads as 0, since there is no pool here
    assert list(student["dev_per_mix"]) == [f"transfer {share}, pool 0.0" for share in (0.0, 0.5, 1.0)]
    tried = {share: student["dev_per_mix"][f"transfer {share}, pool 0.0"]["accuracy"] for share in (0.0, 0.5, 1.0)}
    assert student["transfer"] == min(tried, key=lambda share: (-tried[share], share))  # the best dev accuracy kept
    assert tried[student["transfer"]] == pytest.approx(np.mean(list(student["dev_accuracy_per_seed"].values())))
    for role, examples in (
        ("student", 172 + round(student["transfer"] * transfer_rows(project))),
        ("twin", 172),
    ):
        history = (project / f"data/bag/{role}/history.csv").read_text().splitlines()
        assert history[0] == "epoch,seeds,train_loss,train_acc,dev_loss,dev_acc,test_loss,test_acc"
        assert len(history) == 1 + 3
        metrics = json.loads((project / f"data/bag/{role}/metrics.json").read_text())
        assert metrics["train_examples"] == examples
        assert set(metrics["best_epoch_per_seed"]) == {"7", "8"}
        assert all(1 <= epoch <= 3 for epoch in metrics["best_epoch_per_seed"].values())
        assert all(
            metrics["best_epoch_per_seed"][seed] <= trained <= 3
            for seed, trained in metrics["epochs_trained_per_seed"].items()
        )
        models = sorted(p.name for p in (project / f"data/bag/{role}/models").iterdir())
        assert models == ["seed_7.safetensors", "seed_8.safetensors"]
        model = load_student(project / f"data/bag/{role}/models/seed_7.safetensors")
        assert metrics["params"] == sum(p.numel() for p in model.parameters())
        assert model.skip_ids == (0, 2, 3)  # the default recipe leaves the frame tokens out of the bag


@pytest.mark.parametrize("arch", ["transformer", "bilstm"])
def test_encoder_students_and_twins_write_models_that_reload(built: tuple[Path, str], arch: str) -> None:
    from transformers import AutoModelForSequenceClassification

    from distillery.students.encoders import architecture, token_examples
    from distillery.training.loop import predict

    project, _ = built
    test = pq.read_table(project / "data/tokenized/test.parquet")
    share = yaml.safe_load((project / "params.yaml").read_text())[arch]["transfer"]  # the default's
    for role, examples in (("student", 172 + round(share * transfer_rows(project))), ("twin", 172)):
        folder = project / f"data/{arch}/{role}"
        metrics = json.loads((folder / "metrics.json").read_text())
        assert metrics["train_examples"] == examples
        assert set(metrics["best_epoch_per_seed"]) == {"7", "8"}
        assert (folder / "history.csv").read_text().startswith("epoch,seeds,train_loss,train_acc,dev_loss")
        assert sorted(p.name for p in (folder / "models").iterdir()) == ["seed_7", "seed_8"]
        model = architecture(arch).load(folder / "models/seed_7")
        assert metrics["params"] == sum(p.numel() for p in model.parameters())
        logits = predict(model, token_examples(test["input_ids"].to_pylist(), test["label"].to_numpy(), 0))
        assert logits.shape == (test.num_rows, 2) and bool(torch.isfinite(logits).all())
        if arch == "transformer":  # a standard model: what a user serves
            hf = AutoModelForSequenceClassification.from_pretrained(folder / "models/seed_7")
            assert hf.config.num_hidden_layers == 1 and hf.config.id2label == {0: "neg", 1: "pos"}


def test_cached_hidden_states_match_a_fresh_teacher_forward_pass(built: tuple[Path, str]) -> None:
    from transformers import AutoModel

    project, _ = built
    cached = pq.read_table(project / "data/hidden/train.parquet")
    train = pq.read_table(project / "data/tokenized/train.parquet")
    assert cached["id"].to_pylist() == train["id"].to_pylist()
    assert cached.schema.field("hidden").type == pa.list_(pa.float32())  # Parquet keeps no fixed size
    assert set(pc.list_value_length(cached["hidden"]).to_pylist()) == {32}  # the tiny teacher's width
    teacher = AutoModel.from_pretrained(project / "data/teacher").eval()
    for row in (0, 5, 171):
        ids = torch.tensor([train["input_ids"][row].as_py()])  # alone: no padding at all
        with torch.no_grad():
            fresh = teacher(input_ids=ids).last_hidden_state[0].mean(0)
        torch.testing.assert_close(torch.tensor(cached["hidden"][row].as_py()), fresh, rtol=1e-4, atol=1e-5)


def transfer_rows(project: Path) -> int:
    return pq.read_table(project / "data/augmented/transfer.parquet").num_rows


def test_tuned_baselines_record_their_dev_trials(built: tuple[Path, str]) -> None:
    project, _ = built
    fasttext = json.loads((project / "data/fasttext_tuned/metrics.json").read_text())
    assert len(fasttext["trials"]) == 4  # the tiny grid: lr 0.5, 1.0 x word n-grams 1, 2
    assert fasttext["dev_accuracy"] == max(trial["dev_accuracy"] for trial in fasttext["trials"])
    assert fasttext["chosen"].keys() == {"lr", "epochs", "word_ngrams", "dim"}
    assert set(fasttext["accuracy_per_seed"]) == {"7", "8"}
    sklearn = json.loads((project / "data/sklearn/metrics.json").read_text())
    assert [trial["features"] for trial in sklearn["trials"]] == ["tfidf", "nb"]
    assert sklearn["chosen"].keys() == {"features", "ngrams", "C"} and 0 <= sklearn["accuracy"] <= 1


def test_compare_writes_the_contracted_metrics_report_and_plot(built: tuple[Path, str]) -> None:
    project, _ = built
    metrics = json.loads((project / "data/compare/metrics.json").read_text())
    for name in ("teacher", "bag_student", "bag_twin", "fasttext", "fasttext_tuned", "sklearn"):
        assert {"accuracy", "params", "examples_per_s"} <= metrics[name].keys(), name
    for name in ("bag_student", "bag_twin", "fasttext", "fasttext_tuned"):
        assert {"accuracy_sd", "accuracy_per_seed"} <= metrics[name].keys()
    versus = metrics["bag_student_vs_twin"]
    assert {"delta", "delta_ci95", "mcnemar_p", "mcnemar_p_per_seed", "student_epochs_to_twin_final"} <= (versus.keys())
    low, high = versus["delta_ci95"]
    assert low <= versus["delta"] <= high
    assert set(versus["mcnemar_p_per_seed"]) == {"7", "8"}
    assert metrics["teacher"]["accuracy"] > 0.9, "the tiny teacher should learn the tiny task"
    assert metrics["bag_student"]["params"] < metrics["teacher"]["params"]
    report = (project / "data/compare/report.md").read_text()
    for row in ("| bag student (distilled)", "| fastText C++, the bag's budget", "| fastText C++, tuned on dev"):
        assert row in report
    for name in ("transformer_student", "transformer_twin", "bilstm_student", "bilstm_twin"):
        assert {"accuracy", "accuracy_per_seed", "params", "disk_mb", "examples_per_s", "latency_ms"} <= metrics[
            name
        ].keys()
        assert metrics[name]["latency_ms"] > 0 and metrics[name]["disk_mb"] > 0
    for student in ("transformer_student", "bilstm_student"):
        assert set(metrics[f"{student}_vs_twin"]["mcnemar_p_per_seed"]) == {"7", "8"}
    assert "| transformer student (distilled)" in report and "## Each student against its twin" in report
    for arch in ("bag", "bilstm", "transformer"):  # the folders users serve, scored through predict.py's path
        shipped, folder = metrics[f"{arch}_export"], project / "data/export" / arch
        config = json.loads((folder / "config.json").read_text())["distillery"]
        assert shipped["model_file"] == config["model"] and shipped["seed"] == config["seed"]
        assert shipped["disk_mb"] == pytest.approx((folder / config["model"]).stat().st_size / 1e6, rel=1e-5)
        assert shipped["latency_ms"] > 0 and 0 <= shipped["accuracy"] <= 1
        assert shipped["params"] == metrics[f"{arch}_student"]["params"]
        assert f"| {ARCH_TITLES[arch]} export" in report
    assert "## Which export to serve" in report
    board = (project / "data/compare/leaderboard.csv").read_text().splitlines()
    # the teacher, 3 students, 3 twins, 3 exports and the 3 baselines
    assert board[0] == "model,latency_ms,accuracy,params" and len(board) == 1 + 13
    assert (project / "data/compare/pareto.png").read_bytes()[:4] == b"\x89PNG"
    assert "## Chosen on dev" in report and "## Verdict" in report and "bootstrap 95% interval" in report
    assert (project / "data/compare/learning_curves.png").read_bytes()[:4] == b"\x89PNG"


def test_the_headline_metrics_are_one_compact_file(built: tuple[Path, str]) -> None:
    project, _ = built
    summary = json.loads((project / "data/compare/summary.json").read_text())
    architectures = ["bag", "bilstm", "transformer"]
    per_arch = [f"{prefix}{arch}{suffix}" for arch in architectures for prefix, suffix in (("", ""), ("", "_twin"))]
    per_arch += [f"{prefix}_{arch}" for arch in architectures for prefix in ("dev", "delta", "p_max")]
    per_arch += [f"dev_{arch}_twin" for arch in architectures]
    assert sorted(summary) == sorted(["teacher", "fasttext", "fasttext_tuned", "sklearn", *per_arch])
    shown = json.loads(run(["dvc", "metrics", "show", "--json"], project).stdout)
    files = [path for revision in shown.values() for path in revision["data"]]
    assert files == ["data/compare/summary.json"]
    rendered = run(["dvc", "plots", "show", "--json"], project).stdout
    assert "accuracy_per_epoch" in rendered and "leaderboard.csv" in rendered


def test_bag_students_read_past_the_teachers_window(tmp_path: Path, tiny_teacher: Path) -> None:
    """The label's cue sits after 12 neutral words: a teacher cut at 8 tokens cannot see it, the bag can."""
    reviews = tiny_reviews(240)
    reviews["review"] = [
        " ".join(["the movie was the plot and the actors"] * 2) + " " + ("great" if label == "pos" else "awful")
        for label in reviews["sentiment"]
    ]
    reviews["review"] += [f" {i}" for i in range(len(reviews))]
    project = make_project(tmp_path / "long", tiny_teacher, reviews)
    update_params(project, {"teacher": {"max_length": 8}})
    run(["dvc", "repro", "twin_bag", "teacher_logits"], project)
    stats = json.loads((project / "data/tokenized/stats.json").read_text())
    assert stats["train"]["truncated_for_teacher"] == stats["train"]["texts"]
    test = pq.read_table(project / "data/tokenized/test.parquet")
    assert max(len(ids) for ids in test["input_ids"].to_pylist()) == 8
    assert min(len(ids) for ids in test["full_ids"].to_pylist()) > 8
    teacher = pq.read_table(project / "data/logits/test.parquet")["teacher_pred"].to_numpy()
    assert (teacher == test["label"].to_numpy()).mean() < 0.75
    metrics = json.loads((project / "data/bag/twin/metrics.json").read_text())
    assert min(metrics["dev_accuracy_per_seed"].values()) > 0.9


def test_second_repro_runs_nothing(built: tuple[Path, str]) -> None:
    project, _ = built
    output = run(["dvc", "repro"], project).stdout
    assert ran_stages(output) == []
    for stage in STAGES:
        assert f"Stage '{stage}' didn't change, skipping" in output


def test_amazon_schema_tsv_gz_with_five_star_classes(tmp_path: Path, tiny_teacher: Path) -> None:
    """The seed's Amazon reviews layout runs by params alone: review_body text, star_rating 1-5."""
    reviews = tiny_reviews(300)
    stars = [str(1 + i % 5) for i in range(len(reviews))]
    amazon = reviews.assign(
        marketplace="UK",
        review_id=[f"R{i:05d}" for i in range(len(reviews))],
        star_rating=stars,
        review_headline="title",
        review_body=reviews["review"],
    )[["marketplace", "review_id", "star_rating", "review_headline", "review_body"]]
    project = make_project(tmp_path / "amazon", tiny_teacher)
    amazon.to_csv(project / "data/raw/amazon_uk.tsv.gz", sep="\t", index=False)
    update_params(
        project,
        {"data": {"source": "data/raw/amazon_uk.tsv.gz", "text_column": "review_body", "label_column": "star_rating"}},
    )
    run(["dvc", "repro", "teacher_logits"], project)
    labels = json.loads((project / "data/prepared/labels.json").read_text())
    assert labels["labels"] == ["1", "2", "3", "4", "5"]
    logits = pq.read_table(project / "data/logits/test.parquet")
    assert [c for c in logits.column_names if c.startswith("logit_")] == [f"logit_{c}" for c in range(5)]
    assert sorted(set(pq.read_table(project / "data/prepared/test.parquet")["label"].to_pylist())) == [0, 1, 2, 3, 4]
