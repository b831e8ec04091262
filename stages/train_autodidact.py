"""Stage train_autodidact: the control. Same model and loop as the student, hard labels only.

Writes data/autodidact/: model.safetensors, metrics.json, history.csv.
"""

from common import run_stage
from student import cross_entropy_loss, train_stage


def main() -> None:
    train_stage("autodidact", cross_entropy_loss, use_transfer_set=False)


if __name__ == "__main__":
    run_stage(main)
