"""Stage distil_bag: the distilled bag student, from the teacher's logits on train and on the shares of
the transfer set in `bag.transfer`, the best share on dev kept.

Writes data/bag/student/: models/seed_<s>.safetensors (each the epoch with the best dev score),
metrics.json and history.csv (per epoch, mean over the seeds still training).
"""

from distillery.core import paths
from distillery.core.errors import run_stage
from distillery.core.files import staged_outputs
from distillery.core.params import load_params
from distillery.students.bag import save_student
from distillery.training.bag_role import train_bag
from distillery.training.runs import write_runs


def main() -> None:
    runs, summary = train_bag(load_params(), "student")
    with staged_outputs(paths.trained("bag", "student")) as out:
        write_runs(out, runs, lambda model, path: save_student(model, path.with_suffix(".safetensors")), summary)


if __name__ == "__main__":
    run_stage(main)
