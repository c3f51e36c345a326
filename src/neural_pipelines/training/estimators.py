"""Fitting the scikit-learn baselines that stand next to the networks, the same way in every experiment."""

from __future__ import annotations

import logging
import time
from typing import Any

from threadpoolctl import threadpool_limits

logger = logging.getLogger(__name__)


def fit_estimator(estimator: Any, x: Any, y: Any, threads: int | None, name: str) -> float:
    """Fit ``estimator`` on ``x, y`` with at most ``threads`` OpenMP / BLAS threads; return the wall seconds.

    The cap matters beside TensorFlow on two cores: measured on house_prices, gradient
    boosting took 4 s on 1 thread and 11-45 s on 2 (idle-spinning threads fight for the
    cores). ``threads: null`` keeps the library default.
    """
    started = time.perf_counter()
    with threadpool_limits(limits=threads):
        estimator.fit(x, y)
    seconds = time.perf_counter() - started
    logger.info("Fitted %s on %d rows in %.2fs", name, len(y), seconds)
    return seconds
