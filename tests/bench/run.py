"""``make bench``: plan time against the SDK floor, start-up, object economy, quotas and NSX API calls.

Writes bench-report/report.md and bench-report/report.json and exits 1 when a budget is broken (the budgets:
tests/bench/budget.py). Not part of ``make test``: it times things, and takes a few minutes. ``BENCH_RUNS``
(default 7) sets the rounds each size is timed in (2 more for plans under half a second; more, up to 3 times as many,
while a budget is undecided: ``MAX_RUNS``); ``BENCH_CASES`` (comma-separated) limits the cases. docs/benchmark.md is a
committed snapshot of one run.
"""

from __future__ import annotations

import compileall
import datetime
import json
import math
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
from components.platform import get_platform
from components.topology import parse_topology
from components.verify import verify
from tests.bench.budget import budgets, gc_importers, program_files, undecided
from tests.bench.economy import DEFINITIONS, economy
from tests.bench.generate import CASES, SDKS, Case, generated_config, secrets_of
from tests.helpers import PROJECT, PROJECT_DIR, load_project

REPORT_DIR = PROJECT_DIR / "bench-report"
WORK = REPORT_DIR / "work"
# Verified sizes: components/verify.py compares every required access with every allowed one (and the AWS
# interpreter every address with every group member): quadratic, minutes from 50 clusters (docs/benchmark.md).
VERIFIED = ("example", "1", "10")
RUNS = int(os.environ.get("BENCH_RUNS", "7"))
# Rounds per size, from the CPU seconds of a size's first plan: a short plan gets more (it moves more with the
# machine's load, and a run costs little). A long one gets as many as the others, not fewer: each round starts at one
# phase of the garbage collector (``round_phase``), and the budgets average over the phases (budget.py): of 7 rounds
# the trimmed mean keeps 5 phases, of 5 rounds only 3.
FAST_PLAN_SECONDS = 0.5
FAST_RUNS = RUNS + 2
# A budget still undecided after the rounds above (its value within two standard errors of its line: budget.py
# ``undecided``) has the sizes it compares timed in more rounds, one at a time, each size up to this many.
MAX_RUNS = 3 * RUNS
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


def read_dump(path: Path) -> list[dict[str, Any]]:
    """The registrations a child recorded (one JSON object a line)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


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


def own_modules(case: Case) -> list[str]:
    """Our program's modules: what ``__main__.py`` imports, and the platform's component module it loads."""
    return ["components.program", f"components.{get_platform(case.platform).package}.component"]


def program_modules(case: Case) -> list[str]:
    """Both sides' own program code, imported before every timed run of either (child.py ``preimport``): the floor
    imports its own module before its run, and so must ours (an import is start-up, not per-resource, cost: budgets (a)
    and (b) compare growth, and (c) adds our modules' import time back), and both import all of them so that both start
    from the same heap."""
    return [*own_modules(case), "tests.bench.floor"]


def runs_for(first_plan_cpu_seconds: float) -> int:
    return FAST_RUNS if first_plan_cpu_seconds < FAST_PLAN_SECONDS else RUNS


def _median(runs: Sequence[Mapping[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def _base(case: Case, label: str, config: Mapping[str, Any]) -> dict[str, Any]:
    engine, secret_keys = _engine_config(config)
    return {"project": PROJECT, "stack": f"bench-{label}", "config": engine, "secret_keys": secret_keys}


def record(case: Case, label: str, config: Mapping[str, Any]) -> Path:
    """Plan once in a fresh interpreter, untimed, and keep what it registered (the economy and verify read it)."""
    dump = WORK / f"{case.name}-{label}.jsonl"
    _child({**_base(case, label, config), "mode": "plan", "preimport": [case.sdk], "dump": str(dump)})
    return dump


def round_phase(i: int) -> float:
    """The collector's phase at the start of every run of round ``i`` (child.py ``advance_collector``): the
    fractional parts of i times the golden ratio, 0, 0.618, 0.236, 0.854, 0.472, ..., which spread over [0, 1)
    for any number of rounds (a size run 3 times samples 0, 0.618, 0.236; one run 9 times fills the gaps).
    Ours and the floor, at every size, start a round at the same phase: a round's ratios compare like with like."""
    return (i * (math.sqrt(5) - 1) / 2) % 1.0


def measure_plans(case: Case, configs: Mapping[str, Mapping[str, Any]], preimport: Sequence[str]) -> list[dict[str, Any]]:
    """Plan time of each timed size and of its SDK floor: fresh interpreters, in rounds, every size and both
    sides once a round (in alternating order), so that the machine's load drifts over all of them alike. Each
    round starts every run at one phase of the garbage collector's cycle, a different one each round
    (``round_phase``).

    The first round's plans record what they register (after the timed run): each size's floor registers that,
    the economy and verify read it. ``preimport``: the provider SDK modules the smaller stacks registered with; a
    size that needs others is a bench error (its timed runs would import them). Both sides also import both sides'
    program modules before their runs (``program_modules``).

    After the rounds ``runs_for`` asks for, a plan budget still undecided (``budget.undecided``: its value within two
    standard errors of its line) has the sizes it compares timed in more rounds, one at a time, each size up to
    ``MAX_RUNS``. A size's k-th run of either side starts at phase ``round_phase(k)``, so the budgets, which pair
    the sizes' runs by position, pair them phase with phase."""
    sizes = [str(n) for n in case.timed]
    own = own_modules(case)
    before_run = [*preimport, *program_modules(case)]
    setup: dict[str, dict[str, Any]] = {
        label: {"base": _base(case, label, configs[label]), "runs": 1, "ours": [], "floor": []} for label in sizes
    }

    def more_to_run() -> bool:
        return any(len(s["ours"]) < s["runs"] for s in setup.values())

    i = 0  # the round: every size that has runs left runs once, both sides
    while more_to_run():
        for label in sizes:
            s = setup[label]
            k = len(s["ours"])  # this size's own round: its runs' phases, and so the pairs of sizes, follow it
            if k >= s["runs"]:
                continue
            dump = WORK / f"{case.name}-{label}.jsonl"
            floor_dump = WORK / f"{case.name}-{label}-floor.jsonl"
            phase = round_phase(k)
            ours = {
                **s["base"],
                "mode": "plan",
                "preimport": before_run,
                "gc_phase": phase,
                "dump": str(dump) if k == 0 else None,
            }
            floor = {
                "project": PROJECT,
                "gc_phase": phase,
                "stack": f"bench-{label}",
                "mode": "floor",
                "preimport": before_run,
                "registrations": str(dump),
                "dump": str(floor_dump) if k == 0 else None,
            }
            for kind, request in (("ours", ours), ("floor", floor)) if i % 2 == 0 else (("floor", floor), ("ours", ours)):
                s[kind].append(_child(request))
            if k == 0:
                s["registrations"] = read_dump(dump)
                needed = set(sdk_modules({r["type"] for r in s["registrations"]}, case.sdk))
                if not needed <= set(preimport):
                    raise RuntimeError(
                        f"bench: {case.name} at {label} clusters registers with {sorted(needed - set(preimport))}, which "
                        "the example and 1-cluster stacks do not: they would be imported inside the timed run"
                    )
                s["runs"] = runs_for(s["ours"][0]["cpu_seconds"])
        print(f"  {case.name} round {i + 1}: " + ", ".join(f"{k}: {_progress(v)}" for k, v in setup.items()), flush=True)
        i += 1
        if not more_to_run():
            open_budgets = undecided(case.name, [_rounds_of(label, setup[label], own) for label in sizes])
            more = _one_more_round(open_budgets, {label: s["runs"] for label, s in setup.items()})
            if more:
                said = "; ".join(f"{b['budget']}: {b['value']} ± {b['standard_error']}" for b in open_budgets)
                print(f"  {case.name}: undecided after round {i}, more at {', '.join(sorted(more, key=int))}: {said}", flush=True)
                for label, runs in more.items():
                    setup[label]["runs"] = runs
    out = []
    for label in sizes:
        s = setup[label]
        ours, floor = s["ours"], s["floor"]
        same = _same_registrations(s["registrations"], read_dump(WORK / f"{case.name}-{label}-floor.jsonl"))
        result: dict[str, Any] = {
            **_rounds_of(label, s, own),
            "resources": ours[0]["resources"],
            "runs": len(ours),
            "ours_cpu_seconds": _median(ours, "cpu_seconds"),
            "floor_cpu_seconds": _median(floor, "cpu_seconds"),
            "ours_wall_seconds": _median(ours, "seconds"),
            "floor_wall_seconds": _median(floor, "seconds"),
            "ours_gc_seconds": _median(ours, "gc_seconds"),
            "floor_gc_seconds": _median(floor, "gc_seconds"),
            "ours_import_cpu_seconds": statistics.median(_import_cpu(r, own) for r in ours),
            "ours_wall_all": [round(r["seconds"], 4) for r in ours],
            "floor_wall_all": [round(r["seconds"], 4) for r in floor],
            "gc_phases": [round(round_phase(k), 3) for k in range(len(ours))],
            "ours_gc_collections_all": [r["gc_collections"] for r in ours],
            "floor_gc_collections_all": [r["gc_collections"] for r in floor],
            "gc_untouched": all(r["gc_untouched"] for r in ours),
            "floor_gc_untouched": all(r["gc_untouched"] for r in floor),
            "floor_registers_the_same": same,
            "preimported": before_run,
        }
        result["ratio"] = result["ours_cpu_seconds"] / result["floor_cpu_seconds"]
        result["wall_ratio"] = result["ours_wall_seconds"] / result["floor_wall_seconds"]
        out.append(result)
    return out


def _one_more_round(open_budgets: Sequence[Mapping[str, Any]], runs: Mapping[str, int]) -> dict[str, int]:
    """The runs each size needs for every undecided budget to have one more round (a budget pairs the rounds all of its
    sizes ran: as many as its size with the fewest), none beyond ``MAX_RUNS``; empty when no budget can have more."""
    more: dict[str, int] = {}
    for b in open_budgets:
        target = min(runs[label] for label in b["sizes"]) + 1
        if target > MAX_RUNS:
            continue
        for label in b["sizes"]:
            if runs[label] < target:
                more[label] = max(more.get(label, 0), target)
    return more


def _rounds_of(label: str, timed: Mapping[str, Any], own: Sequence[str]) -> dict[str, Any]:
    """One size's CPU seconds per round, both sides: what the plan budgets read (budget.py ``plan_budgets``)."""
    return {
        "size": label,
        "ours_cpu_all": [round(r["cpu_seconds"], 4) for r in timed["ours"]],
        # Budget (c): the whole plan, our program's imports included (the floor's program is the bench's own).
        "ours_whole_cpu_all": [round(r["cpu_seconds"] + _import_cpu(r, own), 4) for r in timed["ours"]],
        "floor_cpu_all": [round(r["cpu_seconds"], 4) for r in timed["floor"]],
    }


def _import_cpu(run: Mapping[str, Any], modules: Sequence[str]) -> float:
    """CPU seconds a child took to import ``modules`` before its timed run (each must have been imported there)."""
    return sum(run["import_cpu_seconds"][m] for m in modules)


def _progress(s: Mapping[str, Any]) -> str:
    return f"{statistics.median(r['cpu_seconds'] for r in s['ours']):.3f}/{statistics.median(r['cpu_seconds'] for r in s['floor']):.3f}"


def _same_registrations(ours: Sequence[Mapping[str, Any]], floor: Sequence[Mapping[str, Any]]) -> bool:
    """The floor registered the same (type, name, custom, parent name, inputs, explicit dependencies by name,
    additional secret outputs, delete-before-replace) as the plan it copies."""

    def key(regs: Sequence[Mapping[str, Any]]) -> list[str]:
        names = {r["urn"]: r["name"] for r in regs}
        return sorted(
            json.dumps(
                [
                    r["type"],
                    r["name"],
                    r["custom"],
                    names.get(r["parent"] or ""),
                    r["inputs"],
                    sorted(names[u] for u in r["depends_on"]),
                    r["additional_secret_outputs"],
                    r["delete_before_replace"],
                ],
                sort_keys=True,
            )
            for r in regs
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
    return [
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
        for r in read_dump(path)
    ]


def bench_case(case: Case) -> dict[str, Any]:
    out: dict[str, Any] = {"case": case.name, "stack": case.stack, "platform": case.platform, "sdk": case.sdk}
    configs: dict[str, dict[str, Any]] = {"example": _example_config(case), "1": generated_config(case, 1)}
    for n in case.timed:
        configs[str(n)] = generated_config(case, n)
    t0 = time.perf_counter()
    dumps = {label: record(case, label, configs[label]) for label in ("example", "1")}
    preimport = sdk_modules({r["type"] for d in dumps.values() for r in read_dump(d)}, case.sdk)
    out["plans"] = measure_plans(case, configs, preimport)
    dumps.update({str(n): WORK / f"{case.name}-{n}.jsonl" for n in case.timed})
    print(f"  {case.name} plans: {time.perf_counter() - t0:.0f} s", flush=True)
    out["startup"] = measure_startup(case)
    econ: dict[str, Any] = {}
    checks: dict[str, Any] = {}
    for label, config in configs.items():
        path = dumps[label]
        econ[label] = economy(case.platform, config, read_dump(path)).to_json()
        if label not in VERIFIED:
            continue
        topology = parse_topology(config, read_file=lambda p: (PROJECT_DIR / p).read_text(encoding="utf-8"))
        report = verify(topology, build_flows(topology), _registrations(path))
        checks[label] = {"verify_ok": report.ok, "missing": len(report.missing), "excess": len(report.excess)}
    out["economy"] = econ
    out["verify"] = checks
    out["quota"] = largest_fitting(case)
    print(f"  {case.name}: {time.perf_counter() - t0:.0f} s", flush=True)
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
    if any(c.name == "vsphere" for c in selected):
        from tests.bench.nsx_calls import measure

        nsx = measure(read_dump(WORK / "vsphere-example.jsonl"))
    gc_users = gc_importers(program_files(PROJECT_DIR))
    checks = budgets(results, nsx, gc_users)
    document = {
        "schema": "eksa-firewall/bench/v2",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": info,
        "method": METHOD,
        "runs": {
            "default": RUNS,
            "fast": FAST_RUNS,
            "fast_below_seconds": FAST_PLAN_SECONDS,
            "most": MAX_RUNS,
            "startup": STARTUP_RUNS,
        },
        "budgets": checks,
        "results": results,
        "nsx_calls": nsx,
        "economy_definitions": DEFINITIONS,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "seconds": round(time.perf_counter() - started, 1),
    }
    (REPORT_DIR / "report.json").write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    from tests.bench.report import budget_value, markdown

    (REPORT_DIR / "report.md").write_text(markdown(document), encoding="utf-8")
    failed = [c for c in checks if not c["ok"]]
    for c in checks:
        print(f"{'----' if c.get('not_timed') else 'PASS' if c['ok'] else 'FAIL'}  {c['budget']}: {budget_value(c)}")
    print(f"report: {REPORT_DIR / 'report.md'} ({document['seconds']} s)")
    return 1 if failed else 0


METHOD = (
    "The project is byte-compiled first (compileall), as pip compiles the provider SDKs when it installs them. "
    "Plan time: each run is a fresh interpreter (python -m tests.bench.child) that imports Pulumi, the mock engine, "
    "the provider SDK modules the stack registers and both sides' program modules (ours: components.program and the "
    "platform's component module; the floor's: tests/bench/floor.py; untimed, on both sides: the import cost is the "
    "start-up figure, and a test checks that neither timed run imports program code), collects garbage "
    "once (the harness, so that both sides start alike), then moves the collector's counters to the round's phase of its "
    "cycle between full collections with garbage that the next young collection frees (tests/bench/child.py "
    "advance_collector; rounds sample the phases 0, 0.618, 0.236, 0.854, 0.472, ...: where the full collections fall "
    "would otherwise depend on the program's constant allocations; the collector is otherwise as Python sets it), then times "
    "components.engine.run_program of __main__.py with the stack's config, exactly what `plan` runs. The SDK floor run "
    "is the same interpreter with the same imports, timing run_program of tests/bench/floor_program: the registrations "
    "recorded from the plan registered again without our code, through the provider SDKs' own classes (same type "
    "tokens, names, inputs, parents and providers, and the options the bench records besides: explicit dependencies, "
    "additional secret outputs, delete-before-replace; checked equal), each decoded from its line of the recording "
    "just before it is registered; the floor exports nothing (what the program exports is its own cost). The figure is the process's CPU time over the run (time.process_time: every thread of "
    "the process, without the time other processes of a shared machine take); wall time is reported next to it. The "
    "sizes are timed in rounds, each round one run of ours and one of the floor at every size, in alternating order, "
    "a size's k-th runs at the k-th phase of the collector (so that two sizes' runs pair phase with phase); "
    "seconds are medians of the runs. A budget's ratio is paired: the trimmed mean over rounds (the lowest and the "
    "highest fifth left out) of that round's ratio, ours / floor, or for a marginal ratio (ours at n2 - ours at n1) / "
    "(floor at n2 - floor at n1) within the round; the ratios of the medians are reported next to them. A growth "
    "budget's line is 1.15, or 1.5 ms of CPU a cluster added over the floor's growth where that is more (tests/bench/budget.py). "
    "Each budget's standard error is the standard deviation of its rounds' ratios over the square root of their number; "
    "a plan budget within two standard errors of its line after its rounds has the sizes it compares timed in more rounds, "
    "one at a time, until none is or they have run 3 times the default. Each run also reports whether the garbage "
    "collector's settings (enabled, thresholds, frozen objects) are the same after it as before, and the bench checks "
    "that no module of the program imports gc. Start-up: a cold interpreter plans the example stack; time since the "
    "interpreter started, ru_maxrss of that process, and the provider SDK modules in its sys.modules. Economy: counts "
    "read from the registrations against minimums computed from the topology and flows (definitions below). NSX calls: "
    "the dynamic provider against tests/vsphere/nsx_emulator.py with the example stack's NSX objects."
)


if __name__ == "__main__":
    sys.exit(main())
