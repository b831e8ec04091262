"""Stage distil_bag: the distilled bag student, from the teacher's logits on train and on the shares of
the transfer set and of the unlabelled pool in `bag.transfer` and `bag.pool`, the best mix on dev kept.

Writes data/bag/student/: models/seed_<s>.safetensors (each the epoch with the best dev score),
metrics.json (with the share kept and every share's dev score) and history.csv (per epoch, mean over
the seeds still training).
"""

from distillery.core.errors import run_stage
from distillery.training.bag_role import run_stage_role

if __name__ == "__main__":
    run_stage(lambda: run_stage_role("student"))
