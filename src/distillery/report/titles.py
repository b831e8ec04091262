"""The models on the leaderboard and their titles in the report. Each architecture has a distilled
student and its twin: the same model and training loop on the hard labels alone, the control that
shows what the teacher added."""

from __future__ import annotations

from distillery.evaluation.keys import model_key

ARCH_TITLES = {"transformer": "transformer", "bilstm": "BiLSTM", "bag": "bag"}


# The report's order: the students that read word order first, as they are usually the most accurate.
REPORT_ORDER = ("transformer", "bilstm", "bag")

MODEL_TITLES = (
    {"teacher": "teacher"}
    | {
        model_key(arch, role): f"{ARCH_TITLES[arch]} {title}"
        for arch in REPORT_ORDER
        for role, title in (("student", "student (distilled)"), ("twin", "twin (hard labels only)"))
    }
    | {model_key(arch, "export"): f"{ARCH_TITLES[arch]} export (predict.py, as shipped)" for arch in REPORT_ORDER}
    | {
        "fasttext": "fastText C++, the bag's budget",
        "fasttext_tuned": "fastText C++, tuned on dev",
        "sklearn": "scikit-learn n-grams + logistic regression, tuned on dev",
        "setfit": "SetFit (sentence transformer + logistic regression), tuned on dev",
    }
)
