"""One measurement in a fresh interpreter: ``python -m tests.bench.child REQUEST.json`` prints one JSON line.

Modes:
- ``plan``: run ``__main__.py`` (our program) under the mock engine once, timed; the modules named in
  ``preimport`` are imported first, untimed: the provider SDK modules and each side's own program code (ours:
  ``components.program`` and the platform's component module; the floor's: tests/bench/floor.py). Import cost is
  the start-up figure (the ``startup`` mode and budget (c) time it), not a per-resource cost, and both sides import
  the same modules, so both start from the same heap. Each module's import is timed (``import_cpu_seconds``): budget
  (c), the whole plan, adds our program's;
- ``floor``: run tests/bench/floor_program (the same resources from a recorded registration list, through the
  provider SDKs' classes), timed likewise;
- ``startup``: everything from a cold interpreter: import pulumi and the engine, plan the stack; reports the
  wall time since the interpreter started, the peak RSS and which provider SDKs ended up in ``sys.modules``.

Before the timed run the harness (not the program) collects garbage once, so that both sides start with the
imports in the collector's oldest generation, then sets the collector's phase the request asks for
(``advance_collector``: the rounds of run.py sample the phase, see there); the collector is otherwise left as Python
sets it. Every mode reports whether the collector's settings (enabled, thresholds, frozen objects) were the same after the run as
before it: the program must not touch them. ``dump`` writes the registrations recorded, one JSON object a line,
with the resource options the engine's record leaves out (``record_options``), which the floor registers too.
"""

from __future__ import annotations

import time

T0 = time.perf_counter()

import gc  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

PROJECT_DIR = Path(__file__).resolve().parents[2]
SDKS = ("pulumi_aws", "pulumi_vsphere", "pulumi_nutanix", "pulumi_command")


def _registration(r: Any, options: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {**r.to_json(), "custom": r.custom, "provider": r.provider, **options.get(r.urn, {})}


def record_options(into: dict[str, dict[str, Any]]) -> None:
    """Have the mock engine's monitor also note, by URN, the options of each registration that its record leaves
    out: explicit dependencies (``depends_on``; dependencies through inputs are the inputs' own), additional secret
    outputs, delete-before-replace. The bench's own instrument of the mock engine, in every plan and floor run alike
    (the engine converts each registration's inputs to JSON for its record anyway); the program is not touched."""
    from components.engine import _RecordingMonitor

    register = _RecordingMonitor.RegisterResource

    def recording(self: Any, request: Any) -> Any:
        response = register(self, request)
        through_inputs = {urn for deps in request.propertyDependencies.values() for urn in deps.urns}
        into[response.urn] = {
            "depends_on": sorted(set(request.dependencies) - through_inputs),
            "additional_secret_outputs": sorted(request.additionalSecretOutputs),
            "delete_before_replace": bool(request.deleteBeforeReplace),
        }
        return response

    setattr(_RecordingMonitor, "RegisterResource", recording)  # noqa: B010 - assigning a method: pyright refuses the attribute form


def gc_settings() -> dict[str, Any]:
    """What a program could change about the garbage collector."""
    return {"enabled": gc.isenabled(), "threshold": list(gc.get_threshold()), "frozen": gc.get_freeze_count()}


def collector_cycle() -> int:
    """Tracked objects allocated (and not freed) between two full collections, with the thresholds as they are:
    a young collection after ``threshold0`` of them, a middle one every ``threshold1 + 1`` young ones, a full one
    every ``threshold2 + 1`` middle ones (CPython's gcmodule.c, ``gc_collect_generations``; a full one also waits
    until the objects promoted since the last one are a quarter of those it kept)."""
    t0, t1, t2 = gc.get_threshold()
    return (t0 + 1) * (t1 + 1) * (t2 + 1)


def advance_collector(phase: float) -> None:
    """Move the collector's counters ``phase`` (0 to 1) of the way through its cycle between full collections,
    with garbage only: each allocation is a reference cycle, which the next young collection frees, so nothing
    is added to the heap, promoted, or left for the timed run but the last young generation's worth (and no full
    collection runs: none has anything promoted to look at).

    Why: where the full collections fall in a timed run depends on the counters when it starts. Right after
    ``gc.collect()`` every run starts at phase 0, and a program's allocations that cost nothing per cluster
    (its imports, say) decide whether one more full collection falls between 10 and 50 clusters: a constant
    cost moving a marginal budget. A real ``pulumi up`` starts the program at whatever phase the language host
    left; the bench samples the phases instead of always starting at one."""
    for _ in range(round(phase * collector_cycle())):
        garbage = _Cycle()
        garbage.ref = garbage


class _Cycle:
    """An object that refers to itself: freed by the collector only (a list would be reused from the list free
    list, which the collector's counter does not see)."""

    __slots__ = ("ref",)
    ref: object


def main(request_path: str) -> None:
    if str(PROJECT_DIR) not in sys.path:
        sys.path.insert(0, str(PROJECT_DIR))  # run_program changes directory: keep the project importable
    req: dict[str, Any] = json.loads(Path(request_path).read_text(encoding="utf-8"))
    mode = req["mode"]
    imports_before = time.perf_counter()
    import_cpu: dict[str, float] = {}  # CPU seconds of each module's import (budget (c) adds our program's)
    for module in req.get("preimport", ()):
        started = time.process_time()
        # Provider SDKs load their modules lazily: touching an attribute runs the module body now.
        getattr(importlib.import_module(module), "_eksa_bench_touch", None)
        import_cpu[module] = time.process_time() - started
    from components.engine import run_program

    options: dict[str, dict[str, Any]] = {}
    record_options(options)
    if mode == "floor":
        program = PROJECT_DIR / "tests" / "bench" / "floor_program" / "__main__.py"
        config = {f"{req['project']}:registrations": req["registrations"]}
        secret_keys: list[str] = []
    else:
        program = PROJECT_DIR / "__main__.py"
        config = req["config"]
        secret_keys = req["secret_keys"]
    imported = time.perf_counter() - imports_before
    if mode != "startup":
        gc.collect()
        advance_collector(req.get("gc_phase", 0.0))
    modules_before = set(sys.modules)
    gc_before = gc_settings()
    gc_time = [0.0, 0, 0.0]  # CPU seconds in the collector, collections, start of the current one

    def gc_clock(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            gc_time[2] = time.process_time()
        else:
            gc_time[0] += time.process_time() - gc_time[2]
            gc_time[1] += 1

    gc.callbacks.append(gc_clock)
    cpu0, t1 = time.process_time(), time.perf_counter()
    run = run_program(program, project=req["project"], stack=req["stack"], config=config, secret_keys=secret_keys)
    t2, cpu1 = time.perf_counter(), time.process_time()
    gc.callbacks.remove(gc_clock)
    gc_after = gc_settings()
    if req.get("dump"):
        lines = [json.dumps(_registration(r, options)) + "\n" for r in run.resources]
        Path(req["dump"]).write_text("".join(lines), encoding="utf-8")
    out = {
        "mode": mode,
        "seconds": t2 - t1,
        "cpu_seconds": cpu1 - cpu0,
        "since_start_seconds": t2 - T0,
        "preimport_seconds": imported,
        "import_cpu_seconds": import_cpu,
        "gc_seconds": gc_time[0],
        "gc_collections": gc_time[1],
        "gc_untouched": gc_before == gc_after,
        "gc_settings": gc_after,
        "resources": len(run.resources),
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "sdks": sorted(m for m in SDKS if m in sys.modules),
        "imported_in_run": sorted(set(sys.modules) - modules_before),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
