"""The stacks every contract test runs on: each example stack of a platform, and environments generated the way
the benchmark grows them (tests/bench/generate.py), at the sizes the benchmark's budgets time up to 50 clusters (SIZES below).

Each stack is planned once per test session (``planned``): the registrations are what the program really sends.
"""

from __future__ import annotations

from functools import cache
from typing import NamedTuple

from tests.bench.budget import BUDGET_SIZE, SMALL
from tests.bench.generate import case, generated_config, secrets_of
from tests.helpers import Planned, plan_config, plan_stack

# One cluster, and the sizes the benchmark's budgets (a) and (c) time. Its growth size (tests/bench/budget.py LARGE,
# 200 clusters) is left out: the same cluster shapes, four times over, for minutes of moto per run.
SIZES = (1, SMALL, BUDGET_SIZE)


class Stack(NamedTuple):
    label: str  # pytest id
    example: str | None  # a stack of stacks/, or
    bench_case: str | None  # a benchmark case, grown to
    size: int


# The benchmark's cases by platform (tests/bench/generate.py CASES).
_BENCH_CASES = {"snow": ("snow", "aws-region"), "nutanix": ("nutanix",)}
_EXAMPLES = {"snow": ("snow-example", "aws-region-example"), "nutanix": ("nutanix-example",)}


def stacks(platform: str) -> list[Stack]:
    """The example stacks of ``platform``, then every benchmark case of it at every benchmark size."""
    out = [Stack(name, name, None, 0) for name in _EXAMPLES[platform]]
    out += [Stack(f"{c}-{n}", None, c, n) for c in _BENCH_CASES[platform] for n in SIZES]
    return out


@cache
def planned(stack: Stack) -> Planned:
    if stack.example is not None:
        return plan_stack(stack.example)
    assert stack.bench_case is not None
    plain, secrets = secrets_of(generated_config(case(stack.bench_case), stack.size))
    return plan_config(plain, secrets=secrets)
