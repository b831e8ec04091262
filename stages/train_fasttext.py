"""Stage train_fasttext: the real fastText (C++, via fasttext-wheel) as a baseline, same split and budget.

Trained on the prepared train texts with the student's dim and epochs and the top-level lr, one
thread (so a seed gives one result), once per student seed. Writes data/fasttext/metrics.json with
accuracy, training time and throughput: would plain fastText have done as well?
"""

import tempfile
import time
from pathlib import Path

import numpy as np

from common import load_params, read_parquet, run_stage, staged_outputs, write_json
from student import Settings

OUT = "data/fasttext"


def fasttext_text(text: str) -> str:
    """fastText reads one example per line and splits on whitespace; lowercase like the teacher's vocab."""
    return " ".join(text.lower().split())


def main() -> None:
    import fasttext

    settings = Settings.from_params(load_params())
    train = read_parquet("data/prepared/train.parquet")
    test = read_parquet("data/prepared/test.parquet")
    test_texts = [fasttext_text(text) for text in test["text"].to_pylist()]
    test_labels = test["label"].to_numpy()
    accuracies, train_seconds, speeds = [], [], []
    with tempfile.TemporaryDirectory() as scratch:
        train_file = Path(scratch) / "train.txt"
        lines = [
            f"__label__{label} {fasttext_text(text)}"
            for text, label in zip(train["text"].to_pylist(), train["label"].to_pylist(), strict=True)
        ]
        train_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        for seed in settings.seeds():
            start = time.perf_counter()
            model = fasttext.train_supervised(
                input=str(train_file),
                dim=settings.dim,
                epoch=settings.epochs,
                lr=settings.lr,
                minCount=1,
                wordNgrams=1,
                thread=1,
                seed=seed,
                verbose=0,
            )
            train_seconds.append(time.perf_counter() - start)
            start = time.perf_counter()
            predicted, _ = model.predict(test_texts)
            speeds.append(len(test_texts) / (time.perf_counter() - start))
            predictions = np.array([int(labels[0].removeprefix("__label__")) for labels in predicted])
            accuracies.append(float(np.mean(predictions == test_labels)))
            print(f"train_fasttext: seed {seed}: accuracy {accuracies[-1]:.4f}, trained in {train_seconds[-1]:.2f} s")
        params = model.get_input_matrix().size + model.get_output_matrix().size
    with staged_outputs(OUT) as out:
        write_json(
            {
                "accuracy": round(float(np.mean(accuracies)), 6),
                "accuracy_sd": round(float(np.std(accuracies, ddof=1)) if len(accuracies) > 1 else 0.0, 6),
                "accuracy_per_seed": {str(s): round(a, 6) for s, a in zip(settings.seeds(), accuracies, strict=True)},
                "params": int(params),
                "train_seconds": round(float(np.mean(train_seconds)), 3),
                "examples_per_s": round(float(np.mean(speeds)), 1),
            },
            out / "metrics.json",
        )


if __name__ == "__main__":
    run_stage(main)
