"""Sampled tracing: per-rule estimates and their confidence intervals.

Both traced engines (the rules-traced core build and the libsinsp harness) can time the
checks of only a sample of events: each event is timed independently with probability
``1/N`` (plugin/trace.h's sampler, geometric gaps), while every check is still counted.
So for each rule and branch (matched / unmatched) we know the exact number of checks
``count`` and, for the ``timed`` of them that were timed, the sum and the sum of squares
of their cycles.

Why the estimates are unbiased: inclusion is independent of the rule, the branch and the
cost of a check, so given ``timed`` the timed checks of a branch are a simple random sample
(without replacement) of its ``count`` checks, and their mean is an unbiased estimate of the
branch's mean; the branch's total is then ``count x mean`` (the exact count, rather than
``N x timed``, removes the noise of how many checks happened to be timed). With ``N = 1``
every check is timed and the estimate *is* the full trace.

Confidence intervals: the normal approximation on the timed per-check cycles, with the
finite-population correction ``1 - timed/count`` (sampling without replacement from a
known population: at ``N = 1`` the interval has zero width, as it should). Cycle
distributions are skewed (a matched check can cost 100x an unmatched one, interrupts add
outliers), so coverage is only approximate below a few dozen timed checks;
``experiments/bench_sampling.py`` measures the coverage against full tracing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ruleopt._ext import abi as _abi
from ruleopt.errors import RuleoptError

# Two-sided 95% normal quantile.
Z95 = 1.959963984540054
# Largest sampling rate both engines accept (plugin/trace.h's TRACE_MAX_SAMPLE).
MAX_SAMPLE: int = _abi.MAX_SAMPLE
# How the intervals are computed, for the profile's settings and the tables' captions.
CI_METHOD = "95% normal approximation on the timed per-check cycles, finite-population corrected"


@dataclass(frozen=True)
class Estimate:
    """One branch (or a whole rule): exact ``count`` of checks, ``timed`` of them timed.

    ``mean``/``mean_low``/``mean_high``: cycles per check and its interval; ``total``
    (and ``total_low``/``total_high``) = ``count x mean``. ``None`` when nothing was timed;
    the interval is ``None`` when it cannot be estimated (a single timed check)."""

    count: int
    timed: int
    mean: float | None
    mean_low: float | None
    mean_high: float | None
    total: float
    total_low: float | None
    total_high: float | None
    se_total: float | None

    @property
    def exact(self) -> bool:
        return self.timed == self.count

    def to_dict(self) -> dict[str, float | int | None]:
        return {
            "count": self.count,
            "timed": self.timed,
            "mean": self.mean,
            "mean_ci": None if self.mean_low is None else [self.mean_low, self.mean_high],
            "total": self.total,
            "total_ci": None if self.total_low is None else [self.total_low, self.total_high],
        }


def estimate(count: int, timed: int, total: float, sumsq: float | None, z: float = Z95) -> Estimate:
    """The estimate of one branch from its exact ``count`` and its timed checks' ``total``
    and ``sumsq`` (sum of squared cycles; None: not recorded, so no interval unless every
    check was timed)."""
    if count < 0 or timed < 0 or timed > count:
        raise RuleoptError(
            f"sampled trace: {timed} timed checks of {count} is impossible",
            hint="the trace cells and the check counters come from different runs",
        )
    if timed == 0:
        return Estimate(count, 0, None, None, None, 0.0, None, None, None)
    mean = total / timed
    if timed == count:
        se = 0.0
    elif timed == 1 or sumsq is None:
        return Estimate(count, 1, mean, None, None, count * mean, None, None, None)
    else:
        var = max(0.0, (sumsq - total * total / timed) / (timed - 1))
        se = math.sqrt(var / timed * (1.0 - timed / count))
    return Estimate(
        count,
        timed,
        mean,
        mean - z * se,
        mean + z * se,
        count * mean,
        count * (mean - z * se),
        count * (mean + z * se),
        count * se,
    )


def combine(parts: list[Estimate], z: float = Z95) -> Estimate:
    """A rule's estimate from its branches (independent strata: totals add, variances add).
    A branch with checks but none timed leaves the whole without an interval."""
    count = sum(p.count for p in parts)
    timed = sum(p.timed for p in parts)
    total = sum(p.total for p in parts)
    if timed == 0:
        return Estimate(count, 0, None, None, None, 0.0, None, None, None)
    known = all(p.se_total is not None or p.count == 0 for p in parts)
    if not known:
        mean = total / count if count else None
        return Estimate(count, timed, mean, None, None, total, None, None, None)
    se = math.sqrt(sum((p.se_total or 0.0) ** 2 for p in parts))
    mean = total / count
    return Estimate(
        count,
        timed,
        mean,
        (total - z * se) / count,
        (total + z * se) / count,
        total,
        total - z * se,
        total + z * se,
        se,
    )


def check_sample(sample: object, what: str = "sample") -> int:
    """A sampling rate (time 1 in ``sample`` events) as an int, or a RuleoptError."""
    if isinstance(sample, bool) or not isinstance(sample, int) or not 1 <= sample <= MAX_SAMPLE:
        raise RuleoptError(
            f"{what} must be a whole number of events from 1 to {MAX_SAMPLE:,}, not {sample!r}",
            hint="1 times every event (full tracing); N times one event in N on average",
        )
    return sample
