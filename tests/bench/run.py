"""``make bench``: plan time against the SDK floor, start-up, object economy, quotas and NSX API calls.

Writes bench-report/report.md and bench-report/report.json and exits 1 when a budget is broken. Not part of
``make test``: it times things, and takes a few minutes. ``BENCH_RUNS`` (default 5) sets the runs per median;
``BENCH_CASES`` (comma-separated) limits the platforms. docs/benchmark.md is a committed snapshot of one run.
"""

from __future__ import annotations

import compileall
import datetime
import json
import os
import platform as pyplatform
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from components.engine import Registration
from components.errors import QuotaError
from components.flows import build_flows
from components.topology import parse_topology
from components.verify import verify
from tests.bench.economy import DEFINITIONS, economy
from tests.bench.generate import CASES, SDKS, Case, generated_config, secrets_of
from tests.helpers import PROJECT, PROJECT_DIR, load_project

REPORT_DIR = PROJECT_DIR / "bench-report"
WORK = REPORT_DIR / "work"
SIZES = (1, 10, 50)
RATIO_BUDGET = 1.25
BUDGET_SIZE = 50
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
SLOW_RUNS = max(3, RUNS - 2)  # at 50 clusters on the largest stacks (seconds per run)
# At the budget's size, a plan under FAST_PLAN_SECONDS gets more runs: on a shared 2-core machine a 5-run median of a
# 0.2 s plan moved its ratio by +-0.08 from one bench to the next; 15 runs cost a few seconds more.
BUDGET_RUNS = 3 * RUNS
FAST_PLAN_SECONDS = 1.0
STARTUP_RUNS = 3
QUOTA_SEARCH_MAX = 100


# --- children ----------------------------------------------------------------------------------------


def _child(request: Mapping[str, Any]) -> dict[str, Any]:
    path = WORK / "request.json"
    path.write_text(json.dumps(request), encoding="utf-8")
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "tests.bench.child", str(path)], cwd=PROJECT_DIR, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"bench child failed ({request['mode']}):\n{done.stderr[-3000:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out["process_seconds"] = wall
    return out


def _engine_config(config: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    """Un-namespaced config -> what the Pulumi CLI passes the program (project defaults first), secret keys."""
    plain, secrets = secrets_of(config)
    values = {**load_project(PROJECT_DIR).defaults, **plain, **secrets}
    engine = {f"{PROJECT}:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
    return engine, [f"{PROJECT}:{k}" for k in secrets]


def sdk_modules(types: set[str], sdk: str) -> list[str]:
    """The provider SDK modules that register ``types`` (imported before the timed run, in both runs)."""
    out = {sdk}
    for t in types:
        package, module, _ = t.split(":", 2)
        if package.startswith("pulumi-python"):
            out.add("pulumi.dynamic")
        elif package not in ("pulumi", PROJECT):
            m = module.split("/", 1)[0]
            out.add(f"pulumi_{package}" + ("" if m == "index" else f".{m}"))
    return sorted(out)


def _median(runs: Sequence[Mapping[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def measure_plan(
    case: Case, label: str, config: Mapping[str, Any], runs: int, *, bare: bool = False, fast_runs: int | None = None
) -> dict[str, Any]:
    """Median plan time of ``config`` and of its SDK floor, each run in a fresh interpreter, interleaved.
    ``fast_runs``: the runs instead of ``runs`` when the first plan takes less than FAST_PLAN_SECONDS."""
    engine, secret_keys = _engine_config(config)
    dump = WORK / f"{case.name}-{label}.json"
    base = {"project": PROJECT, "stack": f"bench-{label}", "config": engine, "secret_keys": secret_keys}
    first = _child({**base, "mode": "plan", "preimport": [case.sdk], "dump": str(dump)})  # warm-up, records
    registrations = json.loads(dump.read_text(encoding="utf-8"))
    if fast_runs is not None and first["seconds"] < FAST_PLAN_SECONDS:
        runs = fast_runs
    preimport = sdk_modules({r["type"] for r in registrations}, case.sdk)
    floor_dump = WORK / f"{case.name}-{label}-floor.json"
    ours: list[dict[str, Any]] = []
    floor: list[dict[str, Any]] = []
    for i in range(runs):
        ours.append(_child({**base, "mode": "plan", "preimport": preimport}))
        floor.append(
            _child(
                {**base, "mode": "floor", "preimport": preimport, "registrations": str(dump), "dump": str(floor_dump) if i == 0 else None}
            )
        )
    same = _same_registrations(registrations, json.loads(floor_dump.read_text(encoding="utf-8")))
    result: dict[str, Any] = {
        "size": label,
        "resources": first["resources"],
        "runs": runs,
        "ours_seconds": _median(ours, "seconds"),
        "floor_seconds": _median(floor, "seconds"),
        "ours_cpu_seconds": _median(ours, "cpu_seconds"),
        "floor_cpu_seconds": _median(floor, "cpu_seconds"),
        "ours_gc_seconds": _median(ours, "gc_seconds"),
        "floor_gc_seconds": _median(floor, "gc_seconds"),
        "ours_all": [round(r["seconds"], 4) for r in ours],
        "floor_all": [round(r["seconds"], 4) for r in floor],
        "floor_registers_the_same": same,
        "preimported": preimport,
    }
    result["ratio"] = result["ours_seconds"] / result["floor_seconds"]
    # The program keeps the garbage collector out of its way (components/program.py); plain SDK use does not. Without
    # the collector's time on both sides, the ratio is our code's cost alone.
    result["ratio_without_gc"] = statistics.median(r["seconds"] - r["gc_seconds"] for r in ours) / statistics.median(
        r["seconds"] - r["gc_seconds"] for r in floor
    )
    result["cpu_ratio"] = result["ours_cpu_seconds"] / result["floor_cpu_seconds"]
    if bare:
        bare_runs = [
            _child({**base, "mode": "floor", "floor": "bare", "preimport": preimport, "registrations": str(dump)}) for _ in range(SLOW_RUNS)
        ]
        result["bare_floor_seconds"] = _median(bare_runs, "seconds")
        result["bare_ratio"] = result["ours_seconds"] / result["bare_floor_seconds"]
    return result


def _same_registrations(ours: Sequence[Mapping[str, Any]], floor: Sequence[Mapping[str, Any]]) -> bool:
    """The floor registered the same (type, name, custom, parent name, inputs) as the plan it copies."""

    def key(regs: Sequence[Mapping[str, Any]]) -> list[str]:
        names = {r["urn"]: r["name"] for r in regs}
        return sorted(
            json.dumps([r["type"], r["name"], r["custom"], names.get(r["parent"] or ""), r["inputs"]], sort_keys=True) for r in regs
        )

    return key(ours) == key(floor)


def measure_startup(case: Case) -> dict[str, Any]:
    """Plan the example stack from a cold interpreter: time, peak memory, provider SDKs in sys.modules."""
    engine, secret_keys = _engine_config(_example_config(case))
    runs = [
        _child({"mode": "startup", "project": PROJECT, "stack": case.stack, "config": engine, "secret_keys": secret_keys})
        for _ in range(STARTUP_RUNS)
    ]
    sdks = sorted({s for r in runs for s in r["sdks"]})
    return {
        "runs": STARTUP_RUNS,
        "seconds": _median(runs, "since_start_seconds"),
        "process_seconds": _median(runs, "process_seconds"),
        "maxrss_mb": _median(runs, "maxrss_mb"),
        "sdks": sdks,
        "foreign_sdks": [s for s in sdks if s != case.sdk],
        "own_sdk_loaded": case.sdk in sdks,
    }


def _example_config(case: Case) -> dict[str, Any]:
    from tests.helpers import example_args

    return example_args(case.stack)


# --- quotas ------------------------------------------------------------------------------------------


def largest_fitting(case: Case) -> dict[str, Any]:
    """AWS: grow the example's layout (its own devices, placement and group selection) one cluster at a time
    through the planner until it raises QuotaError. NSX: analytical (services do not grow with clusters)."""
    if case.platform == "snow":
        from components.aws.planner import build_plan
        from components.aws.settings import parse_settings

        for n in range(1, QUOTA_SEARCH_MAX + 1):
            config = generated_config(case, n, settings={}, layout=False)
            topology = parse_topology(config, read_file=lambda p: (PROJECT_DIR / p).read_text(encoding="utf-8"))
            try:
                build_plan(topology, build_flows(topology), parse_settings(topology))
            except QuotaError as exc:
                return {"method": "grown (planner's quota check)", "largest": n - 1, "first_refusal": str(exc.problems[0])[:400]}
        return {"method": "grown (planner's quota check)", "largest": f">= {QUOTA_SEARCH_MAX}", "first_refusal": None}
    if case.platform == "vsphere":
        return {
            "method": "analytical",
            "largest": "unbounded by the 15-port entry limit",
            "first_refusal": "services are keyed by (protocol, port set) and shared by every cluster: their number and "
            "their entries do not grow with clusters (the largest entry weight is reported per size)",
        }
    return {"method": "n/a", "largest": "n/a (no quota named by the issue)", "first_refusal": None}


# --- report ------------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from importlib.metadata import version

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "os": f"{pyplatform.system()} {pyplatform.release()}",
        "pulumi": version("pulumi"),
        "sdks": {s: version(s.replace("_", "-")) for s in SDKS},
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def _registrations(path: Path) -> list[Registration]:
    out: list[Registration] = []
    for r in json.loads(path.read_text(encoding="utf-8")):
        out.append(
            Registration(
                urn=r["urn"],
                type=r["type"],
                name=r["name"],
                id=r["id"],
                parent=r["parent"],
                custom=r["custom"],
                provider=r["provider"],
                inputs=r["inputs"],
            )
        )
    return out


def bench_case(case: Case) -> dict[str, Any]:
    out: dict[str, Any] = {"case": case.name, "stack": case.stack, "platform": case.platform, "sdk": case.sdk}
    configs: dict[str, dict[str, Any]] = {"example": _example_config(case)}
    for n in SIZES:
        configs[str(n)] = generated_config(case, n)
    plans = []
    for label, config in configs.items():
        slow = label == str(BUDGET_SIZE) and case.name == "aws-region"
        t0 = time.perf_counter()
        at_budget = label == str(BUDGET_SIZE)
        plans.append(
            measure_plan(case, label, config, SLOW_RUNS if slow else RUNS, bare=at_budget, fast_runs=BUDGET_RUNS if at_budget else None)
        )
        print(f"  {case.name} {label}: ratio {plans[-1]['ratio']:.3f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    out["plans"] = plans
    out["startup"] = measure_startup(case)
    econ: dict[str, Any] = {}
    checks: dict[str, Any] = {}
    for label, config in configs.items():
        path = WORK / f"{case.name}-{label}.json"
        regs = json.loads(path.read_text(encoding="utf-8"))
        econ[label] = economy(case.platform, config, regs).to_json()
        topology = parse_topology(config, read_file=lambda p: (PROJECT_DIR / p).read_text(encoding="utf-8"))
        report = verify(topology, build_flows(topology), _registrations(path))
        checks[label] = {"verify_ok": report.ok, "missing": len(report.missing), "excess": len(report.excess)}
    out["economy"] = econ
    out["verify"] = checks
    out["quota"] = largest_fitting(case)
    return out


def budgets(results: Sequence[Mapping[str, Any]], nsx: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for r in results:
        at = next(p for p in r["plans"] if p["size"] == str(BUDGET_SIZE))
        out.append(
            {
                "budget": f"{r['case']}: plan time / SDK floor at {BUDGET_SIZE} clusters <= {RATIO_BUDGET}",
                "value": round(at["ratio"], 3),
                "ok": at["ratio"] <= RATIO_BUDGET,
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
                "budget": f"{r['case']}: (validity) every benchmarked stack verifies; the floor registers the same resources",
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


def compile_project() -> None:
    """Byte-compile the project first, as pip does for the provider SDKs when it installs them.

    Otherwise a machine with PYTHONDONTWRITEBYTECODE (or stale .pyc files after an edit) recompiles our
    modules from source in every fresh interpreter, and the plan would be charged for compiling, not running.
    """
    for folder in ("components", "tests/bench"):
        compileall.compile_dir(str(PROJECT_DIR / folder), quiet=1)
    compileall.compile_file(str(PROJECT_DIR / "__main__.py"), quiet=1)


def main() -> int:
    started = time.perf_counter()
    WORK.mkdir(parents=True, exist_ok=True)
    compile_project()
    selected = [c for c in CASES if not os.environ.get("BENCH_CASES") or c.name in os.environ["BENCH_CASES"].split(",")]
    info = machine()
    print(f"eksa-firewall bench on {info['cpu']} ({info['cores']} cores), Python {info['python']}, pulumi {info['pulumi']}", flush=True)
    results = []
    for case in selected:
        print(f"{case.name}:", flush=True)
        results.append(bench_case(case))
    nsx = None
    if any(c.platform == "vsphere" for c in selected):
        from tests.bench.nsx_calls import measure

        nsx = measure(json.loads((WORK / "vsphere-example.json").read_text(encoding="utf-8")))
    checks = budgets(results, nsx)
    document = {
        "schema": "eksa-firewall/bench/v1",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": info,
        "method": METHOD,
        "runs": {"default": RUNS, "slow": SLOW_RUNS, "budget": BUDGET_RUNS, "startup": STARTUP_RUNS},
        "budgets": checks,
        "results": results,
        "nsx_calls": nsx,
        "economy_definitions": DEFINITIONS,
        "seconds": round(time.perf_counter() - started, 1),
    }
    (REPORT_DIR / "report.json").write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    from tests.bench.report import markdown

    (REPORT_DIR / "report.md").write_text(markdown(document), encoding="utf-8")
    failed = [c for c in checks if not c["ok"]]
    for c in checks:
        print(f"{'PASS' if c['ok'] else 'FAIL'}  {c['budget']}: {c['value']}")
    print(f"report: {REPORT_DIR / 'report.md'} ({document['seconds']} s)")
    return 1 if failed else 0


METHOD = (
    "The project is byte-compiled first (compileall), as pip compiles the provider SDKs when it installs them. "
    "Plan time: each run is a fresh interpreter (python -m tests.bench.child) that imports Pulumi, the mock engine and "
    "the provider SDK modules the stack registers (untimed: the import cost is the start-up figure), collects garbage, "
    "then times components.engine.run_program of __main__.py with the stack's config, exactly what `plan` runs. The SDK "
    "floor run is the same interpreter with the same imports, timing run_program of tests/bench/floor_program: the "
    "registrations recorded from the plan registered again without our code, through the provider SDKs' own classes "
    "(same type tokens, names, inputs, parents and providers; checked equal). Ours and floor runs alternate; figures "
    "are medians; the ratio is median(ours) / median(floor); the ratio without GC leaves out, on both sides, the time spent in the garbage collector (measured with gc.callbacks): the program disables the collector while it plans and registers and freezes what it built, which plain SDK use does not do. The bare floor (plain pulumi.CustomResource, no provider "
    "SDK) is given at 50 clusters for reference. Start-up: a cold interpreter plans the example stack; time since the "
    "interpreter started, ru_maxrss of that process, and the provider SDK modules in its sys.modules. Economy: counts "
    "read from the registrations against minimums computed from the topology and flows (definitions below). NSX calls: "
    "the dynamic provider against tests/vsphere/nsx_emulator.py with the example stack's NSX objects."
)


if __name__ == "__main__":
    sys.exit(main())
