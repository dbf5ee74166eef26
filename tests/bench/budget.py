"""The budgets ``make bench`` asserts, as plain arithmetic over the measurements (checked in test_bench.py).

Plan time is compared with the SDK floor (tests/bench/floor.py: the same resources registered through the
provider SDKs alone), per benchmarked case, at 10, 50 and 200 clusters:

- marginal cost: ``(ours(50) - ours(10)) / (floor(50) - floor(10)) <= 1.15``: each cluster added costs at
  most 15% more than registering its resources costs the SDK, or 1.5 ms of CPU more, where that is more
  (``growth_line``);
- linear growth: the same ratio from 50 to 200 clusters, with the same line: the marginal cost does not grow with
  the stack (work of ours that grows faster than the resources shows here);
- whole plan: ``ours(50) / floor(50) <= 1.5`` in a fresh interpreter, start-up costs of ours included: the import
  of our program's modules (timed before the run, as both sides import their program code: tests/bench/child.py) is
  added to the run (the SDK imports are the start-up budget's), and the program does not touch the garbage collector.

Each run is a fresh interpreter (tests/bench/child.py). The sizes are timed in rounds: each round runs ours and the
floor once at every size, back to back, so that a round sees one state of the machine, and all at one phase of the
garbage collector's cycle, a different one each round (run.py ``round_phase``). A budget's value is the
trimmed mean over the rounds of that round's ratio (paired; ``trimmed_mean``: the lowest and the highest fifth of the
rounds left out, the rest averaged):

- paired, because on a shared machine a slow spell inflates one round, both sides of it, where a ratio of separate
  figures mixes the slow runs of one side with the fast runs of the other (tests/bench/test_bench.py shows a case);
- averaged, because the rounds sample the collector's phase to average over it: a full collection walks the whole
  heap (0.15 s at 200 bare-metal clusters), and whether one more of them falls inside a run depends on the phase the
  run starts at. A program that allocates a tenth more than its floor pays one more full collection in about half of
  the phases: its time has two modes, and the median of 5 rounds is one mode or the other, depending on which of
  the round's phases fall past the boundary, where the user pays the average (docs/benchmark.md has the counts);
- trimmed, because a slow spell of the machine can still hit one side of a round: the rounds at each end are left out.

The ratio of medians is reported next to it.

Why 1.5 ms a cluster beside 15%: a relative line is as strict as the floor is light. Bare metal registers 4 resources
a cluster (two host roles, each a ruleset and the command writing its file): its floor grows by 4 to 7 ms a cluster,
so 15% leaves 0.6 to 1 ms a cluster for everything of ours (reading the config, flows, rules, nftables text, and
the collector's share of keeping them), which is what plain code measures (docs/benchmark.md): the verdict on 1.15 was
a coin toss however many rounds were timed. 1.5 ms a cluster is 0.3 s over a stack of 200 clusters; it binds only
where the floor grows by less than 10 ms a cluster (bare metal: lines of 1.2 to 1.4 measured); every other
platform's floor grows by 19 ms a cluster or more, and its line is 1.15.

A budget whose value is within two standard errors of its line is undecided: run.py times the sizes it compares in
more rounds, up to ``MAX_RUNS``, until it is decided either way (``undecided``). The report gives each value with its
standard error.
"""

from __future__ import annotations

import ast
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

SMALL, BUDGET_SIZE, LARGE = 10, 50, 200
TIMED_SIZES = (SMALL, BUDGET_SIZE, LARGE)
GROWTH_BUDGET = 1.15  # (a) from SMALL to BUDGET_SIZE clusters and (b) from BUDGET_SIZE to LARGE clusters ...
GROWTH_ALLOWANCE_SECONDS = 0.0015  # ... or 1.5 ms of CPU a cluster added, where that is more (``growth_line``)
WHOLE_BUDGET = 1.5  # (c) at BUDGET_SIZE clusters
DECIDED_AT = 2.0  # standard errors between a budget's value and its line for the verdict to stand (``undecided``)


def marginal(ours_from: float, ours_to: float, floor_from: float, floor_to: float) -> float:
    """What the plan's time grows by per second the SDK floor's grows by, between two stack sizes.

    Infinite when the floor did not grow (a broken measurement must not pass)."""
    floor_growth = floor_to - floor_from
    if floor_growth <= 0:
        return math.inf
    return (ours_to - ours_from) / floor_growth


def _plan_at(plans: Sequence[Mapping[str, Any]], size: int) -> Mapping[str, Any]:
    return next(p for p in plans if p["size"] == str(size))


Rounds = tuple[Sequence[float], Sequence[float]]  # one size's CPU seconds per round: (ours, floor)
TRIMMED = 0.2  # the share of the rounds ``trimmed_mean`` leaves out at each end


def trimmed_mean(values: Iterable[float]) -> float:
    """The mean of ``values`` without the lowest and the highest fifth of them (rounded: one of 5 or 7 at each end,
    two of 9; none of 2, the median of 3)."""
    ordered = sorted(values)
    cut = int(len(ordered) * TRIMMED + 0.5)
    kept = ordered[cut : len(ordered) - cut]
    return statistics.fmean(kept)


def round_marginals(small: Rounds, large: Rounds) -> list[float]:
    """Each round's ``marginal`` between two sizes (the rounds both sizes ran in)."""
    (o1, f1), (o2, f2) = small, large
    n = min(len(o1), len(f1), len(o2), len(f2))
    return [marginal(o1[i], o2[i], f1[i], f2[i]) for i in range(n)]


def paired_marginal(small: Rounds, large: Rounds) -> float:
    """The trimmed mean over rounds of each round's ``marginal`` between two sizes."""
    return trimmed_mean(round_marginals(small, large))


def round_ratios(size: Rounds) -> list[float]:
    """Each round's ours / floor."""
    ours, floor = size
    return [o / f for o, f in zip(ours, floor, strict=False)]


def paired_ratio(size: Rounds) -> float:
    """The trimmed mean over rounds of each round's ours / floor."""
    return trimmed_mean(round_ratios(size))


def standard_error(values: Sequence[float]) -> float:
    """How far the mean of ``values`` may be from the mean of many more rounds: their standard deviation over the
    square root of their number (infinite for one round, or for a broken measurement)."""
    if len(values) < 2 or not all(math.isfinite(v) for v in values):
        return math.inf
    return statistics.stdev(values) / math.sqrt(len(values))


def floor_growth(small: Rounds, large: Rounds) -> float:
    """How much the floor grows between two sizes: the trimmed mean over rounds of each round's growth, seconds."""
    (_, f1), (_, f2) = small, large
    return trimmed_mean(b - a for a, b in zip(f1, f2, strict=False))


def growth_line(floor_seconds: float, clusters_added: int) -> float:
    """The line of a growth budget over a floor that grows by ``floor_seconds``: 1.15, or what 1.5 ms of CPU a cluster
    added comes to, where that is more (the module doc says why)."""
    if floor_seconds <= 0:
        return GROWTH_BUDGET
    return max(GROWTH_BUDGET, 1 + GROWTH_ALLOWANCE_SECONDS * clusters_added / floor_seconds)


def _judged(budget: str, rounds: list[float], line: float, sizes: tuple[int, ...]) -> dict[str, Any]:
    """A budget judged from its rounds' ratios; ``sizes``: the stack sizes it compares (what more rounds would time)."""
    value = trimmed_mean(rounds)
    return {
        "budget": budget,
        "value": round(value, 3),
        "ok": value <= line,
        "line": round(line, 3),
        "standard_error": round(standard_error(rounds), 3),
        "rounds": len(rounds),
        "sizes": [str(n) for n in sizes],
    }


def _growth_text(line: float, floor_ms_a_cluster: float) -> str:
    if line <= GROWTH_BUDGET:
        return f"<= {GROWTH_BUDGET}"
    allowance = f"{GROWTH_ALLOWANCE_SECONDS * 1000:g} ms"
    return f"<= {line:.3f} ({allowance} a cluster over the floor's {floor_ms_a_cluster:.1f} ms; 15% would be {GROWTH_BUDGET})"


def plan_budgets(case: str, plans: Sequence[Mapping[str, Any]], key: str = "cpu") -> list[dict[str, Any]]:
    """Budgets (a), (b) and (c) of one case from its per-round figures ``ours_<key>_all`` / ``floor_<key>_all``."""

    def at(size: int) -> Rounds:
        p = _plan_at(plans, size)
        return p[f"ours_{key}_all"], p[f"floor_{key}_all"]

    out: list[dict[str, Any]] = []
    steps = ((SMALL, BUDGET_SIZE, "marginal cost"), (BUDGET_SIZE, LARGE, "linear growth"))
    for small, large, what in steps:
        formula = f"{case}: {what}, (plan({large}) - plan({small})) / (floor({large}) - floor({small}))"
        if not any(p["size"] == str(large) for p in plans):
            value = f"not timed at {large} clusters (docs/benchmark.md)"
            out.append({"budget": f"{formula} <= {GROWTH_BUDGET}", "value": value, "ok": True, "not_timed": True})
            continue
        floor_seconds = floor_growth(at(small), at(large))
        line = growth_line(floor_seconds, large - small)
        text = _growth_text(line, floor_seconds / (large - small) * 1000)
        out.append(_judged(f"{formula} {text}", round_marginals(at(small), at(large)), line, (small, large)))
    whole = _plan_at(plans, BUDGET_SIZE)
    ratios = round_ratios((whole[f"ours_whole_{key}_all"], whole[f"floor_{key}_all"]))
    out.append(
        _judged(
            f"{case}: whole plan / SDK floor at {BUDGET_SIZE} clusters, fresh interpreter, <= {WHOLE_BUDGET}",
            ratios,
            WHOLE_BUDGET,
            (BUDGET_SIZE,),
        )
    )
    return out


def is_undecided(budget: Mapping[str, Any]) -> bool:
    """Whether a judged budget's value is within ``DECIDED_AT`` standard errors of its line."""
    return "line" in budget and abs(budget["value"] - budget["line"]) < DECIDED_AT * budget["standard_error"]


def undecided(case: str, plans: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The plan budgets still undecided (``is_undecided``): more rounds of their ``sizes`` would decide them (run.py
    adds rounds until none is, up to ``MAX_RUNS``; one still undecided then is judged by its value, and the report
    says so)."""
    return [b for b in plan_budgets(case, plans) if is_undecided(b)]


def gc_importers(files: Iterable[Path]) -> list[str]:
    """The files among ``files`` that import the ``gc`` module (the program must leave the collector alone)."""
    out: list[str] = []
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(n == "gc" or n.startswith("gc.") for n in names):
                out.append(str(path))
                break
    return out


def program_files(project_dir: Path) -> list[Path]:
    """The program's own modules: ``__main__.py`` and everything under ``components/``."""
    return [project_dir / "__main__.py", *sorted((project_dir / "components").rglob("*.py"))]


def budgets(results: Sequence[Mapping[str, Any]], nsx: Mapping[str, Any] | None, gc_users: Sequence[str]) -> list[dict[str, Any]]:
    """Every budget of a bench run: the plan budgets, then SDK imports, economy and validity per case, then NSX."""
    out: list[dict[str, Any]] = []
    for r in results:
        out += plan_budgets(r["case"], r["plans"])
        untouched = all(p["gc_untouched"] for p in r["plans"])
        out.append(
            {
                "budget": f"{r['case']}: the program leaves the garbage collector alone (its settings the same after every "
                "run; no module of the program imports gc)",
                "value": "yes" if untouched and not gc_users else f"settings unchanged: {untouched}; gc imported by: {list(gc_users)}",
                "ok": untouched and not gc_users,
            }
        )
        s = r["startup"]
        out.append(
            {
                "budget": f"{r['case']}: no foreign provider SDK imported (only {r['sdk']})",
                "value": ", ".join(s["sdks"]) or "none",
                "ok": not s["foreign_sdks"],
            }
        )
        worst = max(e["worst_ratio"] for e in r["economy"].values())
        out.append(
            {"budget": f"{r['case']}: objects / minimum = 1.0 (every kind, every size)", "value": round(worst, 3), "ok": worst == 1.0}
        )
        bad = [k for k, v in r["verify"].items() if not v["verify_ok"]]
        same = all(p["floor_registers_the_same"] for p in r["plans"])
        out.append(
            {
                "budget": f"{r['case']}: (validity) the stacks of {', '.join(r['verify'])} clusters verify; at every timed size "
                "the floor registers the same resources",
                "value": "ok" if not bad and same else f"verify failed: {bad}; floor same: {same}",
                "ok": not bad and same,
            }
        )
    if nsx is not None:
        out.append(
            {
                "budget": "vsphere: a no-op update (and refresh, and an update with unchanged bodies) makes only read (GET) calls",
                "value": "; ".join(f"{k}: {v['calls'] or 'none'}" for k, v in nsx["phases"].items() if k != "create"),
                "ok": nsx["only_reads_after_create"],
            }
        )
    return out
