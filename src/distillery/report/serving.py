"""Which export folder to serve under a single-text latency budget: the best dev score within it."""

from __future__ import annotations

import math


def budget_ceiling(latency_ms: float) -> float:
    """A latency rounded up to the 1-2-5 series (0.37 -> 0.5, 3.3 -> 5): the budgets the report offers."""
    decade = 10 ** math.floor(math.log10(latency_ms))
    return next(step * decade for step in (1, 2, 5, 10) if latency_ms <= step * decade * (1 + 1e-9))


def serving_choices(exports: dict[str, dict]) -> list[tuple[float, str]]:
    """For each latency budget (every export's latency rounded up to the 1-2-5 series), the export with the
    best dev score among those within it (a tie: the faster): (budget ms, key), listed only where the
    choice changes. Chosen on dev; the test figures are reported beside it, never used."""
    choices: list[tuple[float, str]] = []
    for budget in sorted({budget_ceiling(row["latency_ms"]) for row in exports.values()}):
        within = [key for key, row in exports.items() if row["latency_ms"] <= budget]
        best = max(within, key=lambda key: (exports[key]["dev_score"], -exports[key]["latency_ms"]))
        if not choices or choices[-1][1] != best:
            choices.append((budget, best))
    return choices
