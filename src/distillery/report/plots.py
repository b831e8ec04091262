"""The report's figures: learning curves per epoch, and accuracy against latency with the Pareto front."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distillery.report.titles import MODEL_TITLES


def plot_learning_curves(histories: dict[str, object], teacher_accuracy: float, path: Path) -> None:
    """Dev and test accuracy per epoch (mean over seeds) for each history, with the teacher as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4), dpi=100)
    for (name, history), color in zip(histories.items(), ("tab:blue", "tab:orange"), strict=False):
        axis.plot(history["epoch"], history["test_acc"], marker="o", color=color, label=f"{name}, test")
        axis.plot(history["epoch"], history["dev_acc"], linestyle=":", color=color, label=f"{name}, dev")
    axis.axhline(teacher_accuracy, color="grey", linestyle="--", label="teacher, test")
    axis.set_xlabel("epoch")
    axis.set_ylabel("accuracy")
    axis.set_title("Learning curves (the kept epoch is chosen on dev)")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    # No 'Software' metadata: the PNG bytes depend only on the data.
    figure.savefig(path, metadata={"Software": None})
    plt.close(figure)


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the (latency, accuracy) points no other point beats on both, fastest first."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], -1.0
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def plot_pareto(board: Any, path: Path) -> None:
    """Test accuracy against single-text latency (log scale), every model labelled, the Pareto front joined."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = list(zip(board["latency_ms"], board["accuracy"], strict=True))
    front = pareto_front(points)
    figure, axis = plt.subplots(figsize=(7, 4.5), dpi=100)
    axis.scatter(board["latency_ms"], board["accuracy"], color="tab:blue")
    axis.plot([points[i][0] for i in front], [points[i][1] for i in front], color="tab:orange", label="Pareto front")
    for name, (latency, accuracy) in zip(board["model"], points, strict=True):
        axis.annotate(
            MODEL_TITLES.get(name, name), (latency, accuracy), fontsize=7, xytext=(4, 2), textcoords="offset points"
        )
    axis.set_xscale("log")
    axis.set_xlabel("single-text latency, ms (one thread; log scale)")
    axis.set_ylabel("test accuracy")
    axis.set_title("Accuracy against latency")
    axis.grid(alpha=0.3)
    axis.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path, metadata={"Software": None})
    plt.close(figure)
