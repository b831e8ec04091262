"""Where the bag's word-piece vectors start: bag_vectors' output, read by the bag student and its twin.
A module of its own (not core/paths.py or students/bag.py), so that neither edit re-runs the other's stages."""

from __future__ import annotations

import torch

from distillery.core import paths
from distillery.core.errors import DistilleryError

VECTORS_DIR = paths.DATA / "bag" / "vectors"  # info.json, and table.safetensors where bag.model.vectors is static


def start_vectors(vocab_size: int, dim: int) -> torch.Tensor | None:
    """The table bag_vectors made (`bag.model.vectors: static`), float32 [vocab_size, dim]; None for the
    random start."""
    from safetensors.torch import load_file

    path = VECTORS_DIR / "table.safetensors"
    if not path.is_file():
        return None
    table = load_file(path)["table"]
    if tuple(table.shape) != (vocab_size, dim):
        raise DistilleryError(
            f"{path} is {tuple(table.shape)}, not ({vocab_size}, {dim}): run 'dvc repro' to rebuild it"
        )
    return table
