"""metrics.json's keys, a contract (users' scripts and dashboards read them): each architecture's
distilled student is `<arch>_student`, its twin `<arch>_twin`, the two compared `<arch>_student_vs_twin`,
and the folder the export stage shipped from the student (predict.py's path) `<arch>_export`."""

from __future__ import annotations


def model_key(arch: str, role: str) -> str:
    return f"{arch}_{role}"


def pair_key(arch: str) -> str:
    """The key of an architecture's student compared with its twin."""
    return f"{arch}_student_vs_twin"
