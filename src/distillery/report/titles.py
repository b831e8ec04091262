"""The models on the leaderboard: their keys in metrics.json and their titles in the report.

Each architecture has a distilled student, `<arch>_student`, and its twin, `<arch>_twin`: the same
model and training loop on the hard labels alone, the control that shows what the teacher added.
"""

from __future__ import annotations

from distillery.core.paths import ARCHITECTURES

ARCH_TITLES = {"transformer": "transformer", "bilstm": "BiLSTM", "bag": "bag"}
BASELINES = ("fasttext", "fasttext_tuned", "sklearn")


def model_key(arch: str, role: str) -> str:
    return f"{arch}_{role}"


def pair_key(arch: str) -> str:
    """metrics.json's key for an architecture's student against its twin."""
    return f"{arch}_student_vs_twin"


# Best-first by the usual accuracy: the order of the report's table.
REPORT_ORDER = ("transformer", "bilstm", "bag")
assert set(REPORT_ORDER) == set(ARCHITECTURES)

MODEL_TITLES = {"teacher": "teacher"}
for _arch in REPORT_ORDER:
    MODEL_TITLES[model_key(_arch, "student")] = f"{ARCH_TITLES[_arch]} student (distilled)"
    MODEL_TITLES[model_key(_arch, "twin")] = f"{ARCH_TITLES[_arch]} twin (hard labels only)"
MODEL_TITLES |= {
    "fasttext": "fastText C++, the bag's budget",
    "fasttext_tuned": "fastText C++, tuned on dev",
    "sklearn": "scikit-learn n-grams + logistic regression, tuned on dev",
}
