"""Confidence intervals for the live comparison (95 %, two-sided).

- A proportion (error rate, agreement, accuracy): Wilson's score interval, which stays
  inside [0, 1] and is sound at 0 or n successes, where the normal one collapses.
- A latency quantile, from a histogram of log-spaced buckets: a distribution-free
  order-statistic interval. Of n observations, the ranks n*q -/+ z*sqrt(n*q*(1-q))
  bracket the q-quantile with 95 % confidence whatever the distribution; the interval
  runs from the lower bound of the bucket holding the lower rank to the upper bound of
  the bucket holding the upper one, so it also covers the buckets' rounding.
- A mean error (MAE): Student's t-interval from n, the sum and the sum of squares.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

import numpy as np

Z95 = 1.959963984540054

#: Latency histogram: bucket 0 is below `LATENCY_MIN_S`; bucket k (1..) covers
#: [MIN * R**(k-1), MIN * R**k) with R = 10**(1/20) (12 % wide); the last is open-ended.
LATENCY_MIN_S = 1e-4
LATENCY_RATIO = 10 ** (1 / 20)
LATENCY_BUCKETS = 122  # up to 1e-4 * R**120 = 100 s, then one open bucket


def latency_bucket(seconds: float) -> int:
    """The histogram bucket of a latency of *seconds*: the last whose lower bound (as
    `bucket_bounds` gives it) is at most *seconds*."""
    return bisect.bisect_right(_LOWS, seconds)


def bucket_bounds(k: int) -> tuple[float, float]:
    """The [low, high) seconds of latency bucket *k* (the open last one: its low twice)."""
    if k == 0:
        return 0.0, LATENCY_MIN_S
    low = LATENCY_MIN_S * LATENCY_RATIO ** (k - 1)
    high = low if k == LATENCY_BUCKETS - 1 else LATENCY_MIN_S * LATENCY_RATIO**k  # the next low
    return low, high


#: The lower bound of buckets 1.. (bucket 0 is everything below the first).
_LOWS = [bucket_bounds(k)[0] for k in range(1, LATENCY_BUCKETS)]
_LOWS_ARRAY = np.asarray(_LOWS)


def latency_buckets(seconds: Sequence[float]) -> list[int]:
    """`latency_bucket` of each of *seconds*, in one search (a batch's latencies)."""
    return np.searchsorted(_LOWS_ARRAY, seconds, side="right").tolist()


def wilson(successes: int, n: int, z: float = Z95) -> list[float] | None:
    """Wilson's score interval of the proportion *successes* / *n* (None when n is 0)."""
    if n <= 0:
        return None
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    # At 0 or n successes the bound is exactly 0 or 1 (not its rounding, 1e-19).
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return [low, high]


def _bucket_of_rank(counts: Sequence[int], rank: int) -> int:
    """The bucket holding the *rank*-th smallest observation (1-based)."""
    seen = 0
    for k, c in enumerate(counts):
        seen += c
        if seen >= rank:
            return k
    return len(counts) - 1


def quantile(counts: Sequence[int], q: float, z: float = Z95) -> tuple[float, list[float]] | None:
    """The *q*-quantile (seconds) of a latency histogram and its order-statistic interval.

    The estimate is the geometric middle of the bucket holding rank ceil(n*q); None
    when the histogram is empty."""
    n = sum(counts)
    if n == 0:
        return None
    k = _bucket_of_rank(counts, max(1, math.ceil(n * q)))
    low, high = bucket_bounds(k)
    estimate = math.sqrt(low * high) if low > 0 else high / 2
    half = z * math.sqrt(n * q * (1 - q))
    low_rank = max(1, math.floor(n * q - half))
    high_rank = min(n, math.ceil(n * q + half) + 1)
    ci = [bucket_bounds(_bucket_of_rank(counts, low_rank))[0]]
    ci.append(bucket_bounds(_bucket_of_rank(counts, high_rank))[1])
    return estimate, ci


def mean_interval(n: int, total: float, squares: float) -> tuple[float, list[float] | None] | None:
    """The mean of *n* values from their sum and sum of squares, with its t-interval
    (None for the interval below two values; None altogether for none)."""
    if n <= 0:
        return None
    mean = total / n
    if n < 2:
        return mean, None
    from scipy.stats import t  # a dependency already (drift); loaded only when needed

    variance = max(0.0, (squares - n * mean * mean) / (n - 1))
    half = float(t.ppf(0.975, n - 1)) * math.sqrt(variance / n)
    return mean, [mean - half, mean + half]
