"""Which process writes a stage's outputs when the teacher runs under accelerate launch or torchrun."""

from __future__ import annotations


def is_main_process() -> bool:
    """True in a plain run, and in the first process under accelerate launch / torchrun."""
    from accelerate import PartialState

    return PartialState().is_main_process
