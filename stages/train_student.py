"""Stage train_student: the bag-of-embeddings student, trained on the teacher's logits.

Writes data/student/: model.safetensors, metrics.json, history.csv.
"""

from common import load_params, run_stage
from student import student_loss_from_params, train_stage


def main() -> None:
    train_stage("student", student_loss_from_params(load_params()), use_transfer_set=True)


if __name__ == "__main__":
    run_stage(main)
