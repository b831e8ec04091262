"""Static word-piece vectors for the bag, distilled from a sentence encoder as Model2Vec does (Tulkens and
van Dongen, 2024): every token of the vocabulary is encoded alone, framed as the tokenizer frames a text
([CLS] piece [SEP] for BERT), and pooled the model's own way; PCA keeps the bag's width; each row is
weighted by log(1 + its frequency rank) in the texts the bag trains on, so that the pieces every text
has ("the", ".") weigh least in a text's mean (Zipf weighting); the table is then scaled so that its
rows are as long on average as a random start's, and `lr` keeps its meaning.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa
from torch import nn

from distillery.core import paths
from distillery.core.errors import DistilleryError
from distillery.students.backbones import TEACHER
from distillery.teacher.files import resolve_model
from distillery.teacher.model import load_encoder
from distillery.teacher.probe import Pooling, is_probe, load_probe
from distillery.teacher.probe_fit import sentence_embeddings

VECTORS = ("random", "static")  # bag.model.vectors: fastText's random start, or this module's table


def vector_source(name: str) -> tuple[nn.Module, Pooling]:
    """The encoder and pooling that `bag.model.tokenizer` names: the teacher as trained (a probe's frozen
    encoder, or the fine-tuned one, mean-pooled), or a model reference, pooled as its sentence-transformers
    files say."""
    if name == TEACHER:
        if is_probe(paths.TEACHER):
            probe = load_probe(paths.TEACHER)
            return probe.encoder, probe.pooling
        return load_encoder(str(paths.TEACHER)), Pooling.of(paths.TEACHER)
    return load_encoder(name, "bag.model.tokenizer"), Pooling.of(resolve_model(name, "bag.model.tokenizer"))


def token_inputs(tokenizer: object, vocab_size: int) -> list[list[int]]:
    """Each token id of the vocabulary as a text of its own, framed as the tokenizer frames a text: the
    special ids it puts before and after a word ("a", found inside its own encoding)."""
    framed, word = tokenizer("a")["input_ids"], tokenizer("a", add_special_tokens=False)["input_ids"]
    start = next(i for i in range(len(framed)) if framed[i : i + len(word)] == word)
    before, after = framed[:start], framed[start + len(word) :]
    return [[*before, token, *after] for token in range(vocab_size)]


def token_counts(id_lists: Iterable[pa.ChunkedArray], vocab_size: int) -> np.ndarray:
    """How often each token id occurs in these columns of token id lists: int64 [vocab_size]."""
    counts = np.zeros(vocab_size, dtype=np.int64)
    for column in id_lists:
        flat = column.combine_chunks().flatten().to_numpy()
        counts += np.bincount(flat, minlength=vocab_size)[:vocab_size]
    return counts


def zipf_weights(counts: np.ndarray) -> np.ndarray:
    """log(1 + rank) per token, rank 1 the most frequent; ties and tokens never seen in id order, after
    every seen one. Under Zipf's law a token's frequency is about 1/rank, so this is the log of its rarity."""
    order = np.lexsort((np.arange(len(counts)), -counts))
    rank = np.empty(len(counts), dtype=np.float64)
    rank[order] = np.arange(1, len(counts) + 1)
    return np.log1p(rank)


def principal_components(vectors: np.ndarray, dim: int) -> np.ndarray:
    """The centred vectors [N, H] projected on their `dim` leading principal axes, float64 [N, dim].
    Each axis's sign is fixed (its largest loading positive) so that the table is the same everywhere."""
    centred = vectors.astype(np.float64) - vectors.mean(axis=0, dtype=np.float64)
    variances, axes = np.linalg.eigh(centred.T @ centred)
    leading = axes[:, np.argsort(-variances, kind="stable")[:dim]]
    signs = np.sign(leading[np.abs(leading).argmax(axis=0), np.arange(dim)])
    return centred @ (leading * signs)


def random_start_norm(dim: int) -> float:
    """The mean row length of the bag's random start, uniform (-1/dim, 1/dim) per coordinate: 1/sqrt(3 dim)."""
    return 1.0 / np.sqrt(3.0 * dim)


def static_table(
    encoder: nn.Module, pooling: Pooling, tokenizer: object, counts: np.ndarray, dim: int, source: str
) -> np.ndarray:
    """The bag's starting table, float32 [vocab_size, dim] (vocab_size = len(counts)), from `encoder`
    (named `source` in messages)."""
    width = encoder.config.hidden_size
    if dim > width:
        raise DistilleryError(
            f"params.yaml: 'bag.dim' ({dim}) is wider than the vectors of '{source}' ({width}), which PCA can only "
            f"narrow: set bag.dim to at most {width}, or bag.model.vectors to random"
        )
    inputs = token_inputs(tokenizer, len(counts))
    pooled = sentence_embeddings(encoder, pooling, inputs, tokenizer.pad_token_id, 512, "bag_vectors: word pieces")
    table = principal_components(pooled, dim) * zipf_weights(counts)[:, None]
    table *= random_start_norm(dim) / np.linalg.norm(table, axis=1).mean()
    return table.astype(np.float32)
