"""Benchmark: the bag student's compiled SGD against fastText C++, side by side in one run.

Both train on the same training texts of a project that has run `prepare` and `tokenize_texts`, with the
same dim, epochs and lr, batch size 1, one thread; fastText on whitespace words, the bag on the
teacher's WordPiece ids. Prints time per example-epoch and the ratio (goal: the bag <= 2x fastText).
Each is timed `--repeats` times and the fastest run counts, since this machine is shared and noisy.

    python benchmarks/bag_speed.py PROJECT_DIR [--epochs 5] [--dim 50] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch

from distillery.baselines.models import FastTextData, train_fasttext
from distillery.students.bag import RECIPES, BagOfEmbeddings, Packed
from distillery.students.bag_kernel import LOSS_KINDS, sgd_epoch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("project", type=Path)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--dim", type=int, default=50)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    prepared = pq.read_table(args.project / "data/prepared/train.parquet")
    tokenized = pq.read_table(args.project / "data/tokenized/train.parquet")
    vocab = json.loads((args.project / "data/tokenized/vocab.json").read_text())
    labels = prepared["label"].to_numpy()
    num_classes = int(labels.max()) + 1
    data = Packed(tokenized["input_ids"], tuple(vocab["frame_ids"]))
    n = len(labels)

    def bag() -> None:
        torch.manual_seed(0)
        model = BagOfEmbeddings(vocab["vocab_size"], args.dim, num_classes, (), RECIPES["fasttext"].init)
        embedding, weight, bias = (p.detach().numpy() for p in model.parameters())
        targets, rng = np.zeros((n, num_classes)), np.random.default_rng(0)
        for epoch in range(args.epochs):
            first, last = args.lr * (1 - epoch / args.epochs), args.lr * (1 - (epoch + 1) / args.epochs)
            sgd_epoch(embedding, weight, bias, data.flat, data.starts, rng.permutation(n), 1, targets, labels[:, None],
                      False, LOSS_KINDS["ce"], 1.0, 0.0, first, last, 0.0)  # fmt: skip

    with tempfile.TemporaryDirectory() as scratch:
        texts = FastTextData(prepared["text"].to_pylist(), labels, Path(scratch))

        def fasttext() -> None:
            train_fasttext(texts, dim=args.dim, epochs=args.epochs, lr=args.lr, word_ngrams=1, seed=0)

        bag()  # compile (or load numba's cache) outside the timing
        timings = {"bag (numba)": [], "fastText C++": []}
        for _ in range(args.repeats):
            for name, run in (("bag (numba)", bag), ("fastText C++", fasttext)):
                start = time.perf_counter()
                run()
                timings[name].append(time.perf_counter() - start)
    per_example = {name: min(times) / (n * args.epochs) * 1e6 for name, times in timings.items()}
    tokens = len(data.flat) / n
    print(f"{n} training texts ({tokens:.1f} WordPiece ids each), dim {args.dim}, {args.epochs} epochs, 1 thread")
    print("| learner | best of runs (s) | µs per example-epoch |\n|---|---|---|")
    for name, times in timings.items():
        print(f"| {name} | {min(times):.3f} | {per_example[name]:.2f} |")
    ratio = per_example["bag (numba)"] / per_example["fastText C++"]
    print(f"\nbag / fastText time per example-epoch = {ratio:.2f} (goal <= 2)")


if __name__ == "__main__":
    main()
