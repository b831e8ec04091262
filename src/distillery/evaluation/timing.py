"""Speed, measured the same way for every model (students, teacher, baselines, exports): batched throughput,
and the median latency of one text at a time on one thread."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def examples_per_second(predict: Callable[[], object], num_examples: int, min_seconds: float = 1.0) -> float:
    """Throughput of `predict` (which scores num_examples), after a warm-up call, over >= min_seconds."""
    predict()
    calls, start = 0, time.perf_counter()
    while True:
        predict()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return calls * num_examples / elapsed


LATENCY_TEXTS = 200


def latencies_ms(score_one: Callable[[int], object], count: int, warmups: int = 10) -> list[float]:
    """Wall time in ms of score_one(i) for i in range(count), one call at a time, after `warmups` calls."""
    for i in range(min(warmups, count)):
        score_one(i)
    times = []
    for i in range(count):
        start = time.perf_counter()
        score_one(i)
        times.append(1000 * (time.perf_counter() - start))
    return times


def median_latency_ms(score_one: Callable[[int], object], available: int) -> float:
    """Median wall time of score_one(i) over the first LATENCY_TEXTS of `available` texts, one text at a time
    on one thread (after 10 warm-ups): what a service answering one request at a time sees."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return float(np.median(latencies_ms(score_one, min(LATENCY_TEXTS, available))))
    finally:
        torch.set_num_threads(threads)
