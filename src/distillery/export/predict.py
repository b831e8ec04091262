"""Classify texts with an exported student: python data/export/ARCH/predict.py MODEL_DIR [TEXT ...]

MODEL_DIR is a folder written by the export stage (data/export/<name>/). Texts come from the
arguments, or from --input FILE (.csv, .tsv, .jsonl, .parquet; --text-column names the column),
or one per line from standard input. Each text gives one JSON line: the text, the label, and the
probability of every class, on standard output or in --output FILE. A multi-label model gives
`labels` (every label whose probability is above that label's threshold, chosen on dev by the export
stage and kept in config.json) in place of `label`, and a probability per label (a sigmoid each; they
need not sum to 1).

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
THRESHOLD = 0.5  # a label's threshold when config.json gives none (as task.py)
TOKEN_BUDGET = 1 << 18  # padded ids in one ONNX Runtime call


class UsageError(Exception):
    """Bad input from the user: printed as one `error:` line, exit status 2."""


class Classifier:
    """An export folder loaded for inference: its tokenizer, its ONNX model and its labels.

    config.json's `distillery` entry says how the model reads a text: the ONNX file shipped (fp32, or
    the int8 copy that passed the dev gate), the tokenizer's truncation length, the ids it drops
    (the bag drops [CLS] and [SEP]) and how many ids it reads at most. The model's inputs (their
    names, and whether the mask is float or integer) are read from the ONNX file itself.
    """

    def __init__(self, folder: str | Path, threads: int = 0, model: str | None = None) -> None:
        """`model` names another ONNX file of the folder than the one config.json ships."""
        import onnxruntime
        from tokenizers import Tokenizer

        folder = Path(folder)
        if not (folder / "config.json").is_file():
            raise UsageError(
                f"MODEL_DIR '{folder}': no config.json there; "
                "point it at a folder written by the export stage (data/export/<name>/)"
            )
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        if "distillery" not in config:
            raise UsageError(
                f"MODEL_DIR '{folder}': config.json has no 'distillery' entry, so an older version of distillery "
                "wrote this folder; export it again with this version ('dvc repro')"
            )
        self.config = config["distillery"]
        model = model or self.config["model"]
        missing = [name for name in (model, "tokenizer.json") if not (folder / name).is_file()]
        if missing:
            raise UsageError(f"MODEL_DIR '{folder}': no {', '.join(missing)} there; export it again ('dvc repro')")
        self.labels: list[str] = self.config["labels"]
        chosen = self.config.get("thresholds", {})
        self.thresholds = np.array([chosen.get(label, THRESHOLD) for label in self.labels])
        self.skip_ids = np.array(self.config["skip_ids"], dtype=np.int64)
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.config["truncate_at"])
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        self.session = onnxruntime.InferenceSession(str(folder / model), options, providers=["CPUExecutionProvider"])
        ids_input, mask_input = self.session.get_inputs()
        self.ids_name, self.mask_name = ids_input.name, mask_input.name
        self.mask_dtype = np.float32 if mask_input.type == "tensor(float)" else np.int64
        self.cut = 0  # texts longer than the model's window, cut to it

    def token_ids(self, texts: list[str]) -> list[np.ndarray]:
        """What the model reads of each text: the tokenizer's ids (cut at truncate_at), skip_ids dropped,
        at most max_length."""
        encoded = self.tokenizer.encode_batch(texts)
        self.cut += sum(1 for e in encoded if e.overflowing)
        ids = [np.array(e.ids, dtype=np.int64) for e in encoded]
        if len(self.skip_ids):
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
            mask = np.zeros((len(chunk), width), dtype=self.mask_dtype)
            for i, row in enumerate(rows[j] for j in chunk):
                input_ids[i, : len(row)] = row
                mask[i, : len(row)] = 1
            result[chunk] = self.session.run(["logits"], {self.ids_name: input_ids, self.mask_name: mask})[0]
            start = end
        return result

    @property
    def multi_label(self) -> bool:
        return bool(self.config["multi_label"])

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """[N, C]: a softmax over the classes, or for a multi-label model a sigmoid per label."""
        logits = self.logits(texts)
        if self.multi_label:
            return 1.0 / (1.0 + np.exp(-logits))
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)

    def decide(self, logits: np.ndarray) -> np.ndarray:
        """Class ids [N], or for a multi-label model 0/1 [N, L]: each label above its threshold."""
        if self.multi_label:
            return (1.0 / (1.0 + np.exp(-logits)) > self.thresholds).astype(np.int64)
        return logits.argmax(axis=1)


def read_texts(path: Path, column: str, encoding: str = "utf-8") -> list[str]:
    import pandas as pd

    readers = {".csv": pd.read_csv, ".tsv": lambda p, **k: pd.read_csv(p, sep="\t", **k)}
    suffix = path.suffix.lower()
    try:
        if suffix in readers:
            frame = readers[suffix](path, dtype=str, keep_default_na=False, encoding=encoding)
        elif suffix == ".jsonl":
            frame = pd.read_json(path, lines=True, dtype=False, encoding=encoding)
        elif suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            raise UsageError(f"--input '{path}': unknown format; use .csv, .tsv, .jsonl or .parquet")
    except UnicodeDecodeError as error:
        raise UsageError(
            f"--input '{path}': not {encoding} text (byte {error.start}); pass --encoding with the file's "
            "encoding (latin-1, cp1252, ...) or re-encode it"
        ) from None
    except (OSError, ValueError, LookupError) as error:
        raise UsageError(f"--input '{path}': could not be read ({str(error).splitlines()[0]})") from None
    if not isinstance(frame.index, pd.RangeIndex):  # pandas took the surplus first field of each row as an index
        raise UsageError(
            f"--input '{path}': its rows have more fields than its header (a delimiter inside an unquoted "
            'text?); quote such texts ("a gorgeous, moving film")'
        )
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
                above = probabilities > classifier.thresholds
                decision = {"labels": [label for label, chosen in zip(classifier.labels, above, strict=True) if chosen]}
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
    parser.add_argument("--encoding", default="utf-8", help="of a .csv, .tsv or .jsonl --input (latin-1, ...)")
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
            texts = read_texts(args.input, args.text_column, args.encoding)
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
        empty = sum(1 for text in texts if not text.strip())
        if empty:
            print(f"predict: {empty} empty texts, classified like any other", file=sys.stderr)
        if classifier.cut:
            print(
                f"predict: {classifier.cut} texts longer than the model's window "
                f"({classifier.config['truncate_at']} tokens) were cut to it",
                file=sys.stderr,
            )
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
