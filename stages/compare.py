"""Stage compare: the leaderboard. Teacher, every student, every twin and the baselines on one test set.

Writes data/compare/metrics.json (everything), summary.json (the headline numbers that
`dvc exp show` prints), leaderboard.csv (accuracy against single-text latency, a DVC plot),
report.md, learning_curves.png and pareto.png. Speed is measured here, side by side on one
machine, and is the one part of the outputs that varies between runs.
"""

from distillery.core import paths
from distillery.core.errors import run_stage
from distillery.core.files import staged_outputs, write_json
from distillery.core.params import load_params
from distillery.core.task import read_task
from distillery.evaluation.leaderboard import compare_all
from distillery.report.plots import plot_learning_curves, plot_pareto
from distillery.report.render import render_report
from distillery.report.summary import headline, leaderboard


def main() -> None:
    params, task = load_params(), read_task()
    results, histories = compare_all(params, task)
    report = render_report(results, params, task.label_names)
    with staged_outputs(paths.COMPARE) as out:
        write_json(results, out / "metrics.json")
        write_json(headline(results), out / "summary.json")
        leaderboard(results).to_csv(out / "leaderboard.csv", index=False, float_format="%.6g")
        (out / "report.md").write_text(report, encoding="utf-8")
        plot_learning_curves(
            {f"bag {role}": history for role, history in histories.items()},
            results["teacher"]["accuracy"],
            out / "learning_curves.png",
        )
        plot_pareto(leaderboard(results), out / "pareto.png")
    print(report)


if __name__ == "__main__":
    run_stage(main)
