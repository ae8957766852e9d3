"""The one percentile every latency figure of the eval tools is reported with."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def percentile(values: Sequence[float], q: float, *, digits: int = 3) -> float | None:
    """The ``q``-th percentile (numpy's default linear interpolation, so p50 is the median) rounded to
    ``digits``; ``None`` without values, so an empty run reads as "not measured" rather than as 0."""
    return round(float(np.percentile(values, q)), digits) if len(values) else None
