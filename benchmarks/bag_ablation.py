"""Ablation: why seed 000's bag learner lost to fastText, measured on dev only.

Trains the bag twin (hard labels, the learner alone, no teacher) with one ingredient of
seed 000's recipe changed at a time, and fastText C++ on the same budget, on the dev split of a
project that has run `prepare` and `tokenize_texts`. Prints a markdown table of dev accuracy (mean and
sd over seeds). Test labels are not read.

    python benchmarks/bag_ablation.py PROJECT_DIR [--seeds 3] [--epochs 5] [--dim 50]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from distillery.baselines.models import FastTextData, fasttext_predict, fasttext_text, train_fasttext
from distillery.students.bag import RECIPES, BagOfEmbeddings, Packed, Settings, Split, train
from distillery.training.losses import TWIN_LOSS

BIGRAM_BUCKETS = 2**20
SEED000_NAME = "seed 000's recipe (WordPiece ids, [CLS]/[SEP] in the bag, init [0, 1/d), clip 1, lr halved per epoch)"


def word_ids(texts: list[str], vocabulary: dict[str, int], bigrams: bool) -> pa.ChunkedArray:
    """fastText-style input: lowercased whitespace words (unknown words dropped), optionally hashed bigrams."""
    rows = []
    for text in texts:
        words = fasttext_text(text).split()
        ids = [vocabulary[w] for w in words if w in vocabulary]
        if bigrams:
            ids += [
                len(vocabulary) + zlib.crc32(f"{a} {b}".encode()) % BIGRAM_BUCKETS
                for a, b in zip(words, words[1:], strict=False)
            ]
        rows.append(ids)
    return pa.chunked_array([pa.array(rows, pa.list_(pa.int32()))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("project", type=Path)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--dim", type=int, default=50)
    args = parser.parse_args()
    prepared = {s: pq.read_table(args.project / f"data/prepared/{s}.parquet") for s in ("train", "dev")}
    tokenized = {s: pq.read_table(args.project / f"data/tokenized/{s}.parquet") for s in ("train", "dev")}
    vocab = json.loads((args.project / "data/tokenized/vocab.json").read_text())
    labels = {s: t["label"].to_numpy() for s, t in prepared.items()}
    num_classes = len(json.loads((args.project / "data/prepared/labels.json").read_text())["labels"])
    texts = {s: t["text"].to_pylist() for s, t in prepared.items()}
    words = sorted({w for text in texts["train"] for w in fasttext_text(text).split()})
    vocabulary = {w: i for i, w in enumerate(words)}

    seed000, fasttext = RECIPES["seed000"], RECIPES["fasttext"]
    wordpiece = "wordpiece"
    variants = [
        (SEED000_NAME, seed000, 0.5, wordpiece),
        ("  without [CLS]/[SEP] in the bag", dataclasses.replace(seed000, frame_tokens=False), 0.5, wordpiece),
        ("  symmetric init (-1/d, 1/d)", dataclasses.replace(seed000, init="symmetric"), 0.5, wordpiece),
        ("  no gradient clipping", dataclasses.replace(seed000, grad_clip=0.0), 0.5, wordpiece),
        ("  linear decay to 0 (fastText's)", dataclasses.replace(seed000, schedule="linear"), 0.5, wordpiece),
        ("all four: the `fasttext` recipe", fasttext, 0.5, wordpiece),
        ("  lr 0.25", fasttext, 0.25, wordpiece),
        ("  lr 1.0", fasttext, 1.0, wordpiece),
        ("  whitespace words instead of WordPiece ids", fasttext, 0.5, "words"),
        ("  whitespace words + hashed bigrams", fasttext, 0.5, "bigrams"),
    ]
    inputs = {
        wordpiece: {s: (tokenized[s]["input_ids"], vocab["vocab_size"]) for s in ("train", "dev")},
        "words": {s: (word_ids(texts[s], vocabulary, False), len(vocabulary)) for s in ("train", "dev")},
        "bigrams": {
            s: (word_ids(texts[s], vocabulary, True), len(vocabulary) + BIGRAM_BUCKETS) for s in ("train", "dev")
        },
    }
    seeds = list(range(42, 42 + args.seeds))
    rows = []
    for name, recipe, lr, kind in variants:
        skip = () if recipe.frame_tokens or kind != "wordpiece" else tuple(vocab["frame_ids"])
        (train_ids, vocab_size), (dev_ids, _) = inputs[kind]["train"], inputs[kind]["dev"]
        train_data, dev = Packed(train_ids, skip), Split(Packed(dev_ids, skip), labels["dev"])
        settings = Settings(lr=lr, seed=0, n_seeds=1, dim=args.dim, epochs=args.epochs, batch_size=1, recipe=recipe)
        accuracies, start = [], time.perf_counter()
        for seed in seeds:
            torch.manual_seed(seed)
            model = BagOfEmbeddings(vocab_size, args.dim, num_classes, skip, recipe.init)
            targets = np.zeros((train_data.size, num_classes))
            history, _ = train(
                model, train_data, targets, labels["train"], dev, dev, TWIN_LOSS, settings, seed, "ablation"
            )
            accuracies.append(history[-1]["dev_acc"])  # the last epoch: the learner, not the epoch selection
        rows.append((name, np.mean(accuracies), np.std(accuracies), (time.perf_counter() - start) / len(seeds)))
        print(f"{name.strip()}: {rows[-1][1]:.4f}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as scratch:
        data = FastTextData(texts["train"], labels["train"], Path(scratch))
        accuracies, start = [], time.perf_counter()
        for seed in seeds:
            model = train_fasttext(data, dim=args.dim, epochs=args.epochs, lr=0.5, word_ngrams=1, seed=seed)
            accuracies.append(np.mean(fasttext_predict(model, texts["dev"]) == labels["dev"]))
        seconds = (time.perf_counter() - start) / len(seeds)
        rows.append(("fastText C++, same budget (words, lr 0.5)", np.mean(accuracies), np.std(accuracies), seconds))

    print(f"\n{args.project}: {len(labels['train'])} train / {len(labels['dev'])} dev, {num_classes} classes, "
          f"dim {args.dim}, {args.epochs} epochs, seeds {seeds}; accuracy on dev after the last epoch\n")  # fmt: skip
    print("| bag twin variant | dev accuracy (mean ± sd) | s per seed |\n|---|---|---|")
    for name, mean, sd, seconds in rows:
        print(f"| {name.replace('  ', '— ')} | {mean:.4f} ± {sd:.4f} | {seconds:.1f} |")


if __name__ == "__main__":
    main()
