"""The budgets ``make bench`` asserts, as plain arithmetic over the measurements (checked in test_bench.py).

Plan time is compared with the SDK floor (tests/bench/floor.py: the same resources registered through the
provider SDKs alone), per benchmarked case, at 10, 50 and 200 clusters:

- marginal cost: ``(ours(50) - ours(10)) / (floor(50) - floor(10)) <= 1.15``: each cluster added costs at
  most 15% more than registering its resources costs the SDK;
- linear growth: the same ratio from 50 to 200 clusters ``<= 1.15``: the marginal cost does not grow with the
  stack (work of ours that grows faster than the resources shows here);
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
MARGINAL_BUDGET = 1.15  # (a) from SMALL to BUDGET_SIZE clusters
GROWTH_BUDGET = 1.15  # (b) from BUDGET_SIZE to LARGE clusters
WHOLE_BUDGET = 1.5  # (c) at BUDGET_SIZE clusters


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


def paired_marginal(small: Rounds, large: Rounds) -> float:
    """The trimmed mean over rounds of each round's ``marginal`` between two sizes (the rounds both sizes ran in)."""
    (o1, f1), (o2, f2) = small, large
    n = min(len(o1), len(f1), len(o2), len(f2))
    return trimmed_mean(marginal(o1[i], o2[i], f1[i], f2[i]) for i in range(n))


def paired_ratio(size: Rounds) -> float:
    """The trimmed mean over rounds of each round's ours / floor."""
    ours, floor = size
    return trimmed_mean(o / f for o, f in zip(ours, floor, strict=False))


def plan_budgets(case: str, plans: Sequence[Mapping[str, Any]], key: str = "cpu") -> list[dict[str, Any]]:
    """Budgets (a), (b) and (c) of one case from its per-round figures ``ours_<key>_all`` / ``floor_<key>_all``."""

    def at(size: int) -> Rounds:
        p = _plan_at(plans, size)
        return p[f"ours_{key}_all"], p[f"floor_{key}_all"]

    a = paired_marginal(at(SMALL), at(BUDGET_SIZE))
    whole = _plan_at(plans, BUDGET_SIZE)
    c = paired_ratio((whole[f"ours_whole_{key}_all"], whole[f"floor_{key}_all"]))
    growth = f"{case}: linear growth, (plan({LARGE}) - plan({BUDGET_SIZE})) / (floor({LARGE}) - floor({BUDGET_SIZE})) <= {GROWTH_BUDGET}"
    if any(p["size"] == str(LARGE) for p in plans):
        b = paired_marginal(at(BUDGET_SIZE), at(LARGE))
        grows: dict[str, Any] = {"budget": growth, "value": round(b, 3), "ok": b <= GROWTH_BUDGET}
    else:
        grows = {"budget": growth, "value": f"not timed at {LARGE} clusters (docs/benchmark.md)", "ok": True, "not_timed": True}
    return [
        {
            "budget": f"{case}: marginal cost, (plan({BUDGET_SIZE}) - plan({SMALL})) / (floor({BUDGET_SIZE}) - floor({SMALL})) "
            f"<= {MARGINAL_BUDGET}",
            "value": round(a, 3),
            "ok": a <= MARGINAL_BUDGET,
        },
        grows,
        {
            "budget": f"{case}: whole plan / SDK floor at {BUDGET_SIZE} clusters, fresh interpreter, <= {WHOLE_BUDGET}",
            "value": round(c, 3),
            "ok": c <= WHOLE_BUDGET,
        },
    ]


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
