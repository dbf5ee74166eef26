"""bench-report/report.md from the report document (the JSON written next to it)."""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise
from typing import Any

from components.render import table
from tests.bench.budget import is_undecided, marginal, paired_marginal, paired_ratio


def _s(x: float) -> str:
    return f"{x:.3f}"


def budget_value(budget: Mapping[str, Any]) -> str:
    """A budget's value, with its standard error and rounds where it is a mean over rounds, and whether it was still
    within two standard errors of its line after the last of them (judged by its value then)."""
    if "standard_error" not in budget:
        return str(budget["value"])
    undecided = ", still within two standard errors of the line" if is_undecided(budget) else ""
    return f"{budget['value']} ± {budget['standard_error']} ({budget['rounds']} rounds{undecided})"


def markdown(doc: Mapping[str, Any]) -> str:
    m = doc["machine"]
    lines = [
        "# eksa-firewall benchmark",
        "",
        f"Run on {doc['date']} in {doc['seconds']} s, with `make bench` (`python -m tests.bench.run`).",
        "",
        "## Machine",
        "",
        f"- CPU: {m['cpu']}, {m['cores']} cores (shared: load average {m['load_average_at_start']} at start)",
        f"- {m['os']}, Python {m['python']}, pulumi {m['pulumi']}; " + ", ".join(f"{k} {v}" for k, v in m["sdks"].items()),
        "",
        "## Budgets",
        "",
        table(
            ("budget", "value", "result"),
            [
                (b["budget"], budget_value(b), "not timed" if b.get("not_timed") else "pass" if b["ok"] else "**FAIL**")
                for b in doc["budgets"]
            ],
            "markdown",
        ),
        "",
        "## Method",
        "",
        doc["method"],
        "",
        f"Runs per median: {doc['runs']['default']}; {doc['runs']['fast']} for a size whose first plan took less than "
        f"{doc['runs']['fast_below_seconds']} s of CPU; more, up to {doc['runs']['most']}, for the sizes a plan budget "
        f"compares while it is within two standard errors of its line; {doc['runs']['startup']} for "
        "start-up. Timings vary with the machine and its load: compare ratios, not seconds. Load average at the end: "
        f"{doc.get('load_average_at_end')}.",
        "",
        "Generated stacks (tests/bench/generate.py): the example stack's clusters copied and renamed until there are N, "
        "each cluster moved to its own /20 of 10.128.0.0/9; bare-metal hardware selectors become the addresses they "
        "select; Snow gets more devices (each copy on a pair) only beyond 50 groups per device; regional AWS creates "
        "the node groups in the VPC and no admin-machine/Jenkins group (see the quotas for why).",
        "",
        "## 1. Plan time against the SDK floor",
        "",
        "CPU seconds of the timed run (medians over runs). The budgets are trimmed means over rounds of each round's ratio "
        "(in bold; tests/bench/budget.py says why), the ratios of the medians are given next to them. Both sides import "
        "their program code before the timed run; the import of ours (components.program and the platform's component "
        "module, CPU seconds, median) is given, and the whole plan's ratio with it added, which budget (c) judges. Wall seconds for "
        "reference; the garbage collector's share (CPU seconds between its start and stop callbacks) to show where the "
        "time goes.",
        "",
    ]
    for r in doc["results"]:
        rows = []
        for p in r["plans"]:
            rows.append(
                (
                    p["size"],
                    p["resources"],
                    p["runs"],
                    _s(p["ours_cpu_seconds"]),
                    _s(p["floor_cpu_seconds"]),
                    f"**{paired_ratio((p['ours_cpu_all'], p['floor_cpu_all'])):.3f}**",
                    f"{p['ratio']:.3f}",
                    _s(p["ours_import_cpu_seconds"]),
                    f"{paired_ratio((p['ours_whole_cpu_all'], p['floor_cpu_all'])):.3f}",
                    _s(p["ours_wall_seconds"]),
                    _s(p["floor_wall_seconds"]),
                    f"{p['wall_ratio']:.3f}",
                    f"{p['ours_gc_seconds']:.3f} / {p['floor_gc_seconds']:.3f}",
                )
            )
        steps = []
        plans = r["plans"]
        for a, b in pairwise(plans):
            steps.append(
                (
                    f"{a['size']} -> {b['size']}",
                    _s(b["ours_cpu_seconds"] - a["ours_cpu_seconds"]),
                    _s(b["floor_cpu_seconds"] - a["floor_cpu_seconds"]),
                    f"**{paired_marginal((a['ours_cpu_all'], a['floor_cpu_all']), (b['ours_cpu_all'], b['floor_cpu_all'])):.3f}**",
                    f"{marginal(a['ours_cpu_seconds'], b['ours_cpu_seconds'], a['floor_cpu_seconds'], b['floor_cpu_seconds']):.3f}",
                    f"{marginal(a['ours_wall_seconds'], b['ours_wall_seconds'], a['floor_wall_seconds'], b['floor_wall_seconds']):.3f}",
                )
            )
        lines += [
            f"### {r['case']} ({r['stack']})",
            "",
            table(
                (
                    "clusters",
                    "resources",
                    "runs",
                    "plan CPU s",
                    "floor CPU s",
                    "ratio (trimmed mean of rounds)",
                    "ratio of medians",
                    "import of our program, CPU s",
                    "ratio with it (trimmed mean; budget (c) at 50)",
                    "plan wall s",
                    "floor wall s",
                    "wall ratio",
                    "of which GC, CPU s (plan / floor)",
                ),
                rows,
                "markdown",
            ),
            "",
            table(
                (
                    "clusters",
                    "plan grows by (CPU s)",
                    "floor grows by (CPU s)",
                    "marginal ratio (trimmed mean of rounds)",
                    "of medians",
                    "of medians (wall)",
                ),
                steps,
                "markdown",
            ),
            "",
        ]
    lines += ["## 2. Start-up (example stack, cold interpreter)", ""]
    lines.append(
        table(
            ("stack", "seconds", "process wall s", "peak RSS MB", "provider SDKs imported", "foreign"),
            [
                (
                    r["stack"],
                    _s(r["startup"]["seconds"]),
                    _s(r["startup"]["process_seconds"]),
                    f"{r['startup']['maxrss_mb']:.0f}",
                    ", ".join(r["startup"]["sdks"]) or "none",
                    ", ".join(r["startup"]["foreign_sdks"]) or "none",
                )
                for r in doc["results"]
            ],
            "markdown",
        )
    )
    lines += ["", "## 3. Object economy", "", "Minimum, per platform (computed from the topology and the flows, never from a planner):", ""]
    for platform, defs in doc["economy_definitions"].items():
        lines.append(f"- **{platform}**:")
        lines += [f"  - {d}" for d in defs]
    lines.append("")
    for r in doc["results"]:
        rows = []
        for size, e in r["economy"].items():
            for c in e["counts"]:
                rows.append((size, c["kind"], c["registered"], c["minimum"], f"{c['ratio']:.3f}"))
        lines += [f"### {r['case']}", "", table(("clusters", "objects", "registered", "minimum", "ratio"), rows, "markdown"), ""]
        quotas = {size: e["quotas"] for size, e in r["economy"].items() if e["quotas"]}
        if quotas:
            lines += ["Quota figures per size: " + "; ".join(f"{k}: {v}" for k, v in quotas.items()), ""]
        q = r["quota"]
        lines += [
            f"Largest cluster count within the platform quotas ({q['method']}): **{q['largest']}**"
            + (f". First refusal: {q['first_refusal']}" if q.get("first_refusal") else ""),
            "",
            "Verify of every benchmarked stack: "
            + ", ".join(f"{k}: {'ok' if v['verify_ok'] else 'FAILED'}" for k, v in r["verify"].items()),
            "",
        ]
    nsx = doc.get("nsx_calls")
    if nsx:
        lines += [
            "## 4. NSX API calls (vsphere-example against the emulator)",
            "",
            f"Objects: {nsx['objects']}. Session logins are counted apart (one per provider process).",
            "",
            table(
                ("phase", "calls by method", "total", "per object", "session logins"),
                [(k, v["calls"] or "none", v["total"], v["per_object"], v["session_logins"]) for k, v in nsx["phases"].items()],
                "markdown",
            ),
            "",
        ]
    return "\n".join(lines) + "\n"
