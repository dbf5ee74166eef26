"""Where plan time goes, phase by phase: ``python -m tests.bench.phases [CASE ...]`` (default: every case).

A diagnostic for a broken plan-time budget, not a budget itself. For each case and each of its timed sizes (10, 50,
200 clusters), fresh interpreters (``--runs``, default 3, medians) time the pure phases one after the other,
as the program runs them: ``parse`` (parse_topology of the stack's config), ``flows`` (build_flows) and
``plan`` (the platform's planner, and for bare metal the nft text of every ruleset, which its component
renders). The whole program and its SDK floor are timed by ``make bench``; its recorded medians
(bench-report/report.json, when there is one) give ``registration and the rest`` = whole plan - the pure
phases. Each phase's growth per cluster is printed next to the floor's, so a phase that grows faster than
the resources shows. CPU seconds (time.process_time), like the bench; the garbage collector's share of each
(CPU seconds between its start and stop callbacks) is printed under it.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from itertools import pairwise
from typing import Any

from tests.bench.generate import CASES, case, generated_config
from tests.helpers import PROJECT_DIR

PHASES = ("parse", "flows", "plan")


def _planner(platform: str) -> Callable[[Any, Any], object]:
    """The pure planning step the platform's component runs (imports no provider SDK)."""
    if platform == "snow":
        from components.aws.planner import build_plan
        from components.aws.settings import parse_settings as aws_settings

        return lambda topology, flows: build_plan(topology, flows, aws_settings(topology))
    if platform == "vsphere":
        from components.vsphere.planner import plan as vsphere_plan
        from components.vsphere.settings import parse_settings as vsphere_settings

        return lambda topology, flows: vsphere_plan(topology, flows, vsphere_settings(topology))
    if platform == "nutanix":
        from components.nutanix.planner import plan as nutanix_plan
        from components.nutanix.settings import parse_settings as nutanix_settings

        return lambda topology, flows: nutanix_plan(topology, flows, nutanix_settings(topology))
    from components.baremetal.nftables import render
    from components.baremetal.planner import plan_rulesets
    from components.baremetal.settings import parse_settings as baremetal_settings

    return lambda topology, flows: [render(s) for s in plan_rulesets(topology, flows, baremetal_settings(topology))]


def time_phases(platform: str, config: Mapping[str, Any]) -> dict[str, float]:
    """CPU seconds of each pure phase, and of the garbage collector during it, in this interpreter (run it fresh:
    ``--child``)."""
    from components.flows import build_flows
    from components.topology import parse_topology

    planner = _planner(platform)
    in_gc = [0.0, 0.0]  # CPU seconds in the collector, start of the current collection

    def gc_clock(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            in_gc[1] = time.process_time()
        else:
            in_gc[0] += time.process_time() - in_gc[1]

    gc.callbacks.append(gc_clock)
    out: dict[str, float] = {}
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("parse", lambda: parse_topology(config, read_file=lambda p: (PROJECT_DIR / p).read_text(encoding="utf-8"))),
        ("flows", lambda: build_flows(done["parse"])),
        ("plan", lambda: planner(done["parse"], done["flows"])),
    ]
    done: dict[str, Any] = {}
    for phase, step in steps:
        gc0, t0 = in_gc[0], time.process_time()
        done[phase] = step()
        out[phase], out[f"{phase} GC"] = time.process_time() - t0, in_gc[0] - gc0
    gc.callbacks.remove(gc_clock)
    return out


def _fresh(name: str, n: int) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.bench.phases", "--child", name, str(n)], cwd=PROJECT_DIR, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _bench_medians() -> dict[str, dict[str, dict[str, float]]]:
    path = PROJECT_DIR / "bench-report" / "report.json"
    if not path.exists():
        return {}
    doc = json.loads(path.read_text(encoding="utf-8"))
    return {r["case"]: {p["size"]: p for p in r["plans"]} for r in doc["results"]}


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.phases", description="Where plan time goes, phase by phase (see the module docstring)."
    )
    parser.add_argument("cases", nargs="*", help="bench cases (default: all)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("CASE", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        c = case(args.child[0])
        print(json.dumps(time_phases(c.platform, generated_config(c, int(args.child[1])))))
        return 0
    bench = _bench_medians()
    for c in [case(n) for n in args.cases] if args.cases else CASES:
        sizes = c.timed
        rows: dict[str, list[float]] = {}
        for p in PHASES:
            rows[p], rows[f"  of which GC ({p})"] = [], []
        for n in sizes:
            runs = [_fresh(c.name, n) for _ in range(args.runs)]
            for p in PHASES:
                rows[p].append(statistics.median(r[p] for r in runs))
                rows[f"  of which GC ({p})"].append(statistics.median(r[f"{p} GC"] for r in runs))
        plans = bench.get(c.name, {})
        if all(str(n) in plans for n in sizes):
            whole = [plans[str(n)]["ours_cpu_seconds"] for n in sizes]
            rows["registration and the rest"] = [w - sum(rows[p][i] for p in PHASES) for i, w in enumerate(whole)]
            rows["whole plan (make bench)"] = whole
            rows["  of which GC (whole plan)"] = [plans[str(n)]["ours_gc_seconds"] for n in sizes]
            rows["SDK floor (make bench)"] = [plans[str(n)]["floor_cpu_seconds"] for n in sizes]
            rows["  of which GC (floor)"] = [plans[str(n)]["floor_gc_seconds"] for n in sizes]
        steps = list(pairwise(sizes))
        print(
            f"{c.name}: CPU seconds at {' / '.join(map(str, sizes))} clusters; growth per cluster (ms) "
            + " and ".join(f"{a}->{b}" for a, b in steps)
        )
        for phase, values in rows.items():
            seconds = " ".join(f"{v:8.3f}" for v in values)
            growth = " ".join(f"{1000 * (values[i + 1] - values[i]) / (b - a):8.2f}" for i, (a, b) in enumerate(steps))
            print(f"  {phase:28} {seconds}   {growth}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
