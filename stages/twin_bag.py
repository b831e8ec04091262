"""Stage twin_bag: the bag's twin, the control: the same model and loop on the hard labels of train alone.

Writes data/bag/twin/ as distil_bag writes data/bag/student/.
"""

from distillery.core.errors import run_stage
from distillery.training.bag_role import run_stage_role

if __name__ == "__main__":
    run_stage(lambda: run_stage_role("twin"))
