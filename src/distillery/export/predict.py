"""Classify texts with an exported student: python stages/predict.py MODEL_DIR [TEXT ...]

MODEL_DIR is a folder written by the export stage (data/export/<name>/). Texts come from the
arguments, or from --input FILE (.csv, .tsv, .jsonl, .parquet; --text-column names the column),
or one per line from standard input. Each text gives one JSON line: the text, the label, and the
probability of every class, on standard output or in --output FILE. A multi-label model gives
`labels` (every label whose probability is above 0.5) in place of `label`, and a probability per
label (a sigmoid each; they need not sum to 1).

This script needs only the export folder, ONNX Runtime, the `tokenizers` library and numpy (pandas
for --input): it imports nothing else from this repository, so it can be copied next to the folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

BATCH_SIZE = 256
THRESHOLD = 0.5  # a multi-label model predicts each label whose probability is above this (as task.py)
TOKEN_BUDGET = 1 << 18  # padded ids in one ONNX Runtime call


class UsageError(Exception):
    """Bad input from the user: printed as one `error:` line, exit status 2."""


class Classifier:
    """An export folder loaded for inference: its tokenizer, its ONNX model and its labels."""

    def __init__(self, folder: str | Path, threads: int = 0) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        folder = Path(folder)
        missing = [name for name in ("model.onnx", "config.json", "tokenizer.json") if not (folder / name).is_file()]
        if missing:
            raise UsageError(
                f"MODEL_DIR '{folder}': no {', '.join(missing)} there; "
                "point it at a folder written by the export stage (data/export/<name>/)"
            )
        self.config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        self.labels: list[str] = self.config["labels"]
        self.skip_ids = np.array(self.config["skip_ids"], dtype=np.int64)
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.config["token_cap"])
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        self.session = onnxruntime.InferenceSession(
            str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )

    def token_ids(self, texts: list[str]) -> list[np.ndarray]:
        """What the student reads of each text: the tokenizer's ids, frame tokens dropped, at most max_length."""
        encoded = self.tokenizer.encode_batch(texts)
        ids = [np.array(e.ids, dtype=np.int64) for e in encoded]
        ids = [row[~np.isin(row, self.skip_ids)] for row in ids]
        limit = self.config["max_length"]
        return [row[:limit] for row in ids] if limit is not None else ids

    def logits(self, texts: list[str]) -> np.ndarray:
        """Logits [N, C] in input order. Texts of similar length are run together, at most
        TOKEN_BUDGET padded ids a run, so one long document does not pad a whole batch."""
        rows = self.token_ids(texts)
        result = np.zeros((len(rows), len(self.labels)), dtype=np.float32)
        order = np.argsort([len(row) for row in rows], kind="stable")
        start = 0
        while start < len(order):
            end = start + 1
            while end < len(order) and (end + 1 - start) * max(len(rows[order[end]]), 1) <= TOKEN_BUDGET:
                end += 1
            chunk = order[start:end]
            width = max(len(rows[order[end - 1]]), 1)
            input_ids = np.zeros((len(chunk), width), dtype=np.int64)
            mask = np.zeros((len(chunk), width), dtype=np.float32)
            for i, row in enumerate(rows[j] for j in chunk):
                input_ids[i, : len(row)] = row
                mask[i, : len(row)] = 1.0
            result[chunk] = self.session.run(["logits"], {"input_ids": input_ids, "mask": mask})[0]
            start = end
        return result

    @property
    def multi_label(self) -> bool:
        return bool(self.config.get("multi_label", False))

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """[N, C]: a softmax over the classes, or for a multi-label model a sigmoid per label."""
        logits = self.logits(texts)
        if self.multi_label:
            return 1.0 / (1.0 + np.exp(-logits))
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)


def read_texts(path: Path, column: str) -> list[str]:
    import pandas as pd

    readers = {".csv": pd.read_csv, ".tsv": lambda p, **k: pd.read_csv(p, sep="\t", **k)}
    suffix = path.suffix.lower()
    try:
        if suffix in readers:
            frame = readers[suffix](path, dtype=str, keep_default_na=False)
        elif suffix == ".jsonl":
            frame = pd.read_json(path, lines=True, dtype=False)
        elif suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            raise UsageError(f"--input '{path}': unknown format; use .csv, .tsv, .jsonl or .parquet")
    except (OSError, ValueError) as error:
        raise UsageError(f"--input '{path}': could not be read ({str(error).splitlines()[0]})") from None
    if column not in frame.columns:
        raise UsageError(
            f"--input '{path}': no column '{column}' (it has {list(frame.columns)[:20]}); set --text-column"
        )
    return frame[column].fillna("").astype(str).tolist()


def predictions(classifier: Classifier, texts: list[str], batch_size: int) -> Iterator[dict]:
    from tqdm import tqdm

    batches = range(0, len(texts), batch_size)
    for start in tqdm(batches, desc="predict", unit="batch", file=sys.stderr, disable=len(batches) < 4):
        batch = texts[start : start + batch_size]
        for text, probabilities in zip(batch, classifier.probabilities(batch), strict=True):
            if classifier.multi_label:
                decision = {
                    "labels": [
                        label for label, p in zip(classifier.labels, probabilities, strict=True) if p > THRESHOLD
                    ]
                }
            else:
                decision = {"label": classifier.labels[int(np.argmax(probabilities))]}
            yield (
                {"text": text}
                | decision
                | {
                    "probabilities": {
                        label: round(float(p), 6) for label, p in zip(classifier.labels, probabilities, strict=True)
                    },
                }
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", metavar="MODEL_DIR", help="a folder written by the export stage")
    parser.add_argument("texts", metavar="TEXT", nargs="*", help="texts to classify (default: standard input)")
    parser.add_argument("--input", type=Path, help="a .csv, .tsv, .jsonl or .parquet file of texts")
    parser.add_argument("--text-column", default="text", help="the column of --input holding the texts")
    parser.add_argument("--output", type=Path, help="write JSON lines here instead of standard output")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads (0: its default)")
    args = parser.parse_args(argv)
    try:
        if args.texts and args.input:
            raise UsageError("give texts as arguments or --input FILE, not both")
        classifier = Classifier(args.model_dir, args.threads)
        if args.texts:
            texts = args.texts
        elif args.input:
            texts = read_texts(args.input, args.text_column)
        else:
            texts = [line.rstrip("\n") for line in sys.stdin]
        lines = (json.dumps(row, ensure_ascii=False) + "\n" for row in predictions(classifier, texts, args.batch_size))
        if args.output:
            scratch = args.output.with_name(f".{args.output.name}.partial")
            with scratch.open("w", encoding="utf-8") as file:
                file.writelines(lines)
            scratch.replace(args.output)
        else:
            sys.stdout.writelines(lines)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
