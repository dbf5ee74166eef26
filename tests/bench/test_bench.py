"""Fast, untimed checks of the bench's own parts: the budget arithmetic, the generated stacks, the minimums on
small cases, the floor's reading of a recording. Nothing here times anything."""

from __future__ import annotations

import gc
import ipaddress
import itertools
import json
import math
from pathlib import Path
from typing import Any

import pytest

from components.platform import get_platform
from components.verify import verify
from tests.bench import child, run
from tests.bench.budget import GROWTH_BUDGET, budgets, gc_importers, marginal, plan_budgets, program_files, trimmed_mean, undecided
from tests.bench.economy import economy
from tests.bench.floor import _camel, _snake, read_registrations, sdk_class
from tests.bench.generate import CASES, MAX_CLUSTERS, case, generated_config, grow_clusters, secrets_of
from tests.bench.report import budget_value
from tests.bench.run import FAST_RUNS, MAX_RUNS, RUNS, _engine_config, _same_registrations, round_phase, runs_for, sdk_modules
from tests.helpers import PROJECT, PROJECT_DIR, example_args, plan_config, plan_stack


def _plans(ours: tuple[float, float, float], floor: tuple[float, float, float]) -> list[dict[str, Any]]:
    """One round of runs at 10, 50 and 200 clusters."""
    return _rounds([ours], [floor])


def _rounds(ours: list[tuple[float, float, float]], floor: list[tuple[float, float, float]]) -> list[dict[str, Any]]:
    """Rounds of runs: ``ours[i]`` and ``floor[i]`` are round i's CPU seconds at 10, 50 and 200 clusters."""
    return [
        {
            "size": str(n),
            "ours_cpu_all": [o[k] for o in ours],
            "ours_whole_cpu_all": [o[k] for o in ours],
            "floor_cpu_all": [f[k] for f in floor],
            "gc_untouched": True,
            "floor_registers_the_same": True,
        }
        for k, n in enumerate((10, 50, 200))
    ]


def test_marginal_cost_is_the_growth_of_the_plan_over_the_growth_of_the_floor() -> None:
    assert marginal(1.0, 5.0, 1.0, 4.5) == pytest.approx(4.0 / 3.5)
    assert marginal(0.2, 0.2, 0.1, 0.1) == math.inf  # a floor that did not grow proves nothing: the budget fails
    assert marginal(0.2, 0.3, 0.1, 0.05) == math.inf


def test_each_plan_budget_passes_within_its_limit_and_fails_beyond_it() -> None:
    # floor 0.125 / 1.125 / 5.125 s: it grows by 1 s from 10 to 50 clusters, by 4 s from 50 to 200
    def values(ours: tuple[float, float, float]) -> list[tuple[float, bool]]:
        return [(b["value"], b["ok"]) for b in plan_budgets("x", _plans(ours, (0.125, 1.125, 5.125)))]

    assert values((0.5, 1.64, 6.2)) == [(1.14, True), (1.14, True), (1.458, True)]
    assert values((0.5, 1.66, 6.25)) == [(1.16, False), (1.147, True), (1.476, True)]  # (a) marginal cost 10 -> 50
    assert values((0.5, 1.6, 6.3)) == [(1.1, True), (1.175, False), (1.422, True)]  # (b) linear growth 50 -> 200
    assert values((0.6, 1.7, 6.2)) == [(1.1, True), (1.125, True), (1.511, False)]  # (c) whole plan at 50


def test_the_whole_plan_budget_counts_the_import_of_our_program_and_the_growth_budgets_do_not() -> None:
    plans = _plans((0.5, 1.6, 6.3), (0.125, 1.125, 5.125))
    before = plan_budgets("x", plans)
    for p in plans:  # 0.2 s of importing our modules, before every run
        p["ours_whole_cpu_all"] = [t + 0.2 for t in p["ours_cpu_all"]]
    after = plan_budgets("x", plans)
    assert [b["value"] for b in after[:2]] == [b["value"] for b in before[:2]]
    assert (before[2]["value"], after[2]["value"]) == (1.422, 1.6)
    assert not after[2]["ok"]


def test_a_growth_budget_allows_1_5_ms_a_cluster_where_15_percent_of_the_floor_is_less() -> None:
    # Bare metal's floor grows by about 5 ms a cluster: 15% of it is 0.75 ms, the line is 1.5 ms a cluster, 1.3.
    light = (0.1, 0.1 + 40 * 0.005, 0.3 + 150 * 0.005)
    heavy = (0.5, 0.5 + 40 * 0.025, 1.5 + 150 * 0.025)  # 25 ms a cluster: 15% is 3.75 ms, the line stays 1.15

    def growth(floor: tuple[float, float, float], ratio: float) -> list[tuple[float, float, bool]]:
        ours = (floor[0], floor[0] + (floor[1] - floor[0]) * ratio, floor[0] + (floor[2] - floor[0]) * ratio)
        return [(b["value"], b["line"], b["ok"]) for b in plan_budgets("x", _plans(ours, floor))[:2]]

    assert growth(light, 1.28) == [(1.28, 1.3, True), (1.28, 1.3, True)]
    assert growth(light, 1.32) == [(1.32, 1.3, False), (1.32, 1.3, False)]
    assert growth(heavy, 1.18) == [(1.18, GROWTH_BUDGET, False), (1.18, GROWTH_BUDGET, False)]
    # The budget says which line it is judged against, and why.
    assert "<= 1.300 (1.5 ms a cluster over the floor's 5.0 ms" in plan_budgets("x", _plans(light, light))[1]["budget"]
    assert plan_budgets("x", _plans(heavy, heavy))[1]["budget"].endswith(f"(floor(200) - floor(50)) <= {GROWTH_BUDGET}")


def test_a_budget_within_two_standard_errors_of_its_line_is_undecided() -> None:
    floor = [(0.5, 1.5, 5.25)] * 7  # grows by 1 s and 3.75 s: the line is 1.15

    def rounds(ratios: list[float]) -> list[dict[str, Any]]:
        return _rounds([(0.5, 0.5 + r, 0.5 + 4.75 * r) for r in ratios], floor)

    near = [1.05, 1.25, 1.1, 1.2, 1.0, 1.3, 1.15]  # mean 1.15, standard error 0.041
    assert len(undecided("x", rounds(near))) == 2  # (a) and (b); (c), at 1.15 against 1.5, is decided
    far = [r - 0.2 for r in near]  # as noisy, 0.2 under the line: passes, decided
    assert undecided("x", rounds(far)) == []
    assert undecided("x", rounds([1.16] * 7)) == []  # over the line with no noise: fails, decided
    b = plan_budgets("x", rounds(near))[1]
    assert (b["standard_error"], b["rounds"]) == (0.041, 7)
    # The report says so: a budget still undecided after its last round is judged by its value.
    assert budget_value(b) == "1.15 ± 0.041 (7 rounds, still within two standard errors of the line)"
    assert budget_value(plan_budgets("x", rounds(far))[1]) == "0.95 ± 0.041 (7 rounds)"
    assert undecided("x", rounds([1.1])) != []  # one round says nothing of its noise


def test_the_trimmed_mean_leaves_out_a_fifth_of_the_rounds_at_each_end() -> None:
    assert trimmed_mean([3.0, 1.0, 2.0]) == 2.0  # 3 rounds: the median
    assert trimmed_mean([5.0, 1.0, 100.0, 2.0, 3.0]) == pytest.approx(10 / 3)  # 5: the middle 3
    assert trimmed_mean([9.0, 1.0, 8.0, 2.0, 7.0, 3.0, 6.0, 4.0, 5.0]) == 5.0  # 9: the middle 5
    assert trimmed_mean([1.0, 2.0]) == 1.5


def test_one_more_phase_with_a_full_collection_moves_a_budget_by_a_share_of_it_not_by_all_of_it() -> None:
    # Bare metal at 200 clusters (docs/benchmark.md): the plan pays 4 full collections in some phases of the
    # collector and 5 in others (0.15 s more), the floor 4 in every phase. Here each round's plan at 200 is 6.5 s or
    # 6.65 s, and one program has the extra collection in 3 of 7 rounds, the other in 4.
    floor = [(0.125, 1.125, 6.125)] * 7

    def growth(high_rounds: int) -> float:
        ours = [(0.5, 1.6, 6.65 if i < high_rounds else 6.5) for i in range(7)]
        return plan_budgets("x", _rounds(ours, floor))[1]["value"]

    low, high = (6.5 - 1.6) / 5, (6.65 - 1.6) / 5  # 0.98 and 1.01: the two modes of a round's ratio
    assert growth(3) == pytest.approx((3 * low + 2 * high) / 5, abs=1e-3)
    assert growth(4) == pytest.approx((2 * low + 3 * high) / 5, abs=1e-3)
    # The median would be one mode or the other: one phase more moved it by the whole collection.
    assert growth(4) - growth(3) == pytest.approx((high - low) / 5, abs=1e-3)


def test_a_slow_spell_in_one_round_does_not_decide_a_budget_and_a_slower_program_still_fails() -> None:
    # CPU seconds of a real run (snow, 3 rounds at 50 and 200 clusters; docs/benchmark.md): round 2's plan at 200 and
    # round 3's at 50 ran in slow spells of the shared machine.
    ours = [(0.2155, 1.0093, 4.6355), (0.1974, 1.0138, 7.3548), (0.288, 1.4206, 5.4728)]
    floor = [(0.155, 0.7795, 4.1352), (0.1549, 0.7952, 4.9411), (0.2433, 0.8759, 4.5971)]
    b = plan_budgets("snow", _rounds(ours, floor))[1]
    assert (b["value"], b["ok"]) == (1.089, True)  # rounds 1.081, 1.529, 1.089: the median round
    # The ratio of separate medians takes the plan at 50 from round 2 and at 200 from round 3, whose own plan at 50
    # was slow: (5.4728 - 1.0138) / (4.5971 - 0.7952) = 1.173.
    assert marginal(1.0138, 5.4728, 0.7952, 4.5971) == pytest.approx(1.1728, abs=1e-4)
    slower = [(o1, o2, o3 * 1.08) for o1, o2, o3 in ours]  # a program 8% slower at 200 in every round fails
    assert not plan_budgets("snow", _rounds(slower, floor))[1]["ok"]


def test_a_case_not_timed_at_200_clusters_says_so_and_keeps_its_other_budgets() -> None:
    plans = _plans((0.5, 1.66, 0.0), (0.125, 1.125, 0.0))[:2]
    a, b, c = plan_budgets("aws-region", plans)
    assert (a["value"], a["ok"], c["ok"]) == (1.16, False, True)
    assert b.get("not_timed") and "not timed at 200 clusters" in b["value"]


def _result(plans: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "case": "x",
        "sdk": "pulumi_x",
        "plans": plans,
        "startup": {"sdks": ["pulumi_x"], "foreign_sdks": []},
        "economy": {"10": {"worst_ratio": 1.0}},
        "verify": {"10": {"verify_ok": True}},
    }


def test_the_garbage_collector_budget_fails_on_a_run_that_changed_it_or_a_module_importing_gc() -> None:
    plans = _plans((0.2, 1.0, 4.0), (0.2, 1.0, 4.0))

    def gc_budget(plans: list[dict[str, Any]], users: list[str]) -> bool:
        return next(b["ok"] for b in budgets([_result(plans)], None, users) if "garbage collector" in b["budget"])

    assert gc_budget(plans, [])
    assert not gc_budget(plans, ["components/program.py"])
    assert not gc_budget([{**plans[0], "gc_untouched": False}, *plans[1:]], [])


def test_gc_importers_finds_every_way_of_importing_gc(tmp_path: Path) -> None:
    sources = {
        "a.py": "import gc\n",
        "b.py": "import os, gc as collector\n",
        "c.py": "def f():\n    from gc import freeze\n    freeze()\n",
        "d.py": "import gcsomething\nfrom x import gc\n",
    }
    for name, text in sources.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    found = gc_importers(sorted(tmp_path.iterdir()))
    assert [Path(p).name for p in found] == ["a.py", "b.py", "c.py"]
    assert gc_importers(program_files(PROJECT_DIR)) == []  # the program leaves the collector alone


def test_a_run_that_changes_the_collector_is_seen() -> None:
    before = child.gc_settings()
    gc.disable()
    try:
        assert child.gc_settings() != before
    finally:
        gc.enable()
    assert child.gc_settings() == before


def test_advancing_the_collector_moves_its_counters_and_leaves_nothing_in_the_heap() -> None:
    per_full = gc.get_threshold()[2] + 1  # middle collections between two full ones
    for phase in (0.25, 0.5, 0.75):
        gc.collect()
        before = len(gc.get_objects())
        child.advance_collector(phase)
        middles_since_full = gc.get_count()[2]
        # a middle collection takes the place of every 11th young one: the counter trails the share by up to 2
        assert phase * per_full - 2 <= middles_since_full <= phase * per_full, (phase, middles_since_full)
        gc.collect()
        assert len(gc.get_objects()) <= before + 10  # garbage only: nothing added to the heap


def test_rounds_start_at_phases_spread_over_the_cycle_and_both_sides_of_a_round_at_the_same_one(tmp_path: Path) -> None:
    phases = [round_phase(i) for i in range(9)]
    assert phases[0] == 0.0
    assert all(0.0 <= p < 1.0 for p in phases)
    for n in (3, 5, 9):  # the runs per size: every n rounds leave no gap wider than 0.4 of the cycle
        points = [*sorted(phases[:n]), 1.0]
        assert max(b - a for a, b in itertools.pairwise(points)) < 0.4
    one = case("baremetal")
    requests, plans = _measured(one, tmp_path, lambda request: 0.1)
    by_phase: dict[float, set[tuple[str, str]]] = {}
    for r in requests:
        by_phase.setdefault(r["gc_phase"], set()).add((r["mode"], r["stack"]))
    sizes = {f"bench-{n}" for n in one.timed}
    assert by_phase[0.0] == {(mode, s) for mode in ("plan", "floor") for s in sizes}  # round 0: every size, both sides
    assert plans[0]["gc_phases"] == [round(p, 3) for p in phases[: plans[0]["runs"]]]
    # Every run, of either side, imports the SDK and both sides' program code before it is timed.
    assert all(r["preimport"] == [one.sdk, *run.program_modules(one)] for r in requests)


def _measured(c: Any, tmp_path: Path, cpu: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``run.measure_plans`` of case ``c`` with a fake child whose runs take ``cpu(request)`` CPU seconds: the requests
    it was given, and the plans."""
    requests: list[dict[str, Any]] = []

    def fake_child(request: dict[str, Any]) -> dict[str, Any]:
        seconds = cpu(request)
        requests.append(request)
        if request.get("dump"):
            Path(request["dump"]).write_text("", encoding="utf-8")
        return {
            "cpu_seconds": seconds,
            "seconds": seconds,
            "gc_seconds": 0.0,
            "gc_collections": 1,
            "gc_untouched": True,
            "resources": 0,
            "import_cpu_seconds": dict.fromkeys(request["preimport"], 0.0),
        }

    with pytest.MonkeyPatch.context() as m:
        m.setattr(run, "_child", fake_child)
        m.setattr(run, "WORK", tmp_path)
        plans = run.measure_plans(c, {str(n): {} for n in c.timed}, [c.sdk])
    return requests, plans


def test_an_undecided_budget_gets_more_rounds_of_its_sizes_and_a_decided_one_does_not(tmp_path: Path) -> None:
    one = case("baremetal")
    floor_per_cluster = 0.005  # the line of (a) and (b): 1.3 (1.5 ms a cluster)

    def cpu(extra: Any) -> Any:
        """The floor grows by 5 ms a cluster; ours takes ``extra(n, k)`` seconds more in the k-th run at n clusters."""
        count: dict[tuple[str, str], int] = {}

        def seconds(request: dict[str, Any]) -> float:
            n = int(request["stack"].removeprefix("bench-"))
            k = count[request["mode"], request["stack"]] = count.get((request["mode"], request["stack"]), -1) + 1
            floor = 0.05 + floor_per_cluster * n
            return floor if request["mode"] == "floor" else floor + extra(n, k)

        return seconds

    def by_turns(low: float, high: float) -> Any:
        """(a) and (b) at 1 + low and 1 + high by turns."""
        return lambda n, k: (low if k % 2 == 0 else high) * floor_per_cluster * (n - 10)

    # Rounds at 1.18 and 1.42 by turns: the mean, 1.3, stays within two standard errors of the line: rounds up to MAX_RUNS.
    _, plans = _measured(one, tmp_path, cpu(by_turns(0.18, 0.42)))
    assert [p["runs"] for p in plans] == [MAX_RUNS] * 3
    for p in plans:  # every size's runs at the phases of its own rounds: sizes pair phase with phase
        assert p["gc_phases"] == [round(round_phase(k), 3) for k in range(MAX_RUNS)]
    assert [b["rounds"] for b in plan_budgets(one.name, plans)] == [MAX_RUNS] * 3
    # Only (a) at the line: more rounds at 10 and 50 clusters; 200 keeps its rounds, and (b) reads as many as 200 ran.
    # (ours grows as much as the floor from 50 to 200: (b) is 1.0 in every round.)
    only_a = cpu(lambda n, k: 0.0 if n == 10 else (0.18 if k % 2 == 0 else 0.42) * floor_per_cluster * 40)
    _, plans = _measured(one, tmp_path, only_a)
    assert [p["runs"] for p in plans] == [MAX_RUNS, MAX_RUNS, RUNS]
    assert [b["rounds"] for b in plan_budgets(one.name, plans)] == [MAX_RUNS, RUNS, MAX_RUNS]
    # As noisy but far under the line (1.0 and 1.06 by turns), or steady near it: decided after the usual rounds (more for
    # the sizes whose first plan took less than half a second).
    usual = [FAST_RUNS, FAST_RUNS, RUNS]
    _, plans = _measured(one, tmp_path, cpu(by_turns(0.0, 0.06)))
    assert [p["runs"] for p in plans] == usual
    _, plans = _measured(one, tmp_path, cpu(by_turns(0.28, 0.28)))
    assert [p["runs"] for p in plans] == usual
    assert MAX_RUNS > FAST_RUNS > RUNS


def _recorded(program: Path, config: dict[str, str], secret_keys: list[str], monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Run ``program`` under the mock engine with the bench's option recorder, as tests/bench/child.py does."""
    from components.engine import _RecordingMonitor, run_program

    monkeypatch.setattr(_RecordingMonitor, "RegisterResource", _RecordingMonitor.RegisterResource)  # put back after the test
    options: dict[str, dict[str, Any]] = {}
    child.record_options(options)
    run = run_program(program, project=PROJECT, stack="bench", config=config, secret_keys=secret_keys)
    return [child._registration(r, options) for r in run.resources]


def _floor_of(ours: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    dump = tmp_path / "ours.jsonl"
    dump.write_text("".join(json.dumps(r) + "\n" for r in ours), encoding="utf-8")
    floor_program = PROJECT_DIR / "tests" / "bench" / "floor_program" / "__main__.py"
    return _recorded(floor_program, {f"{PROJECT}:registrations": str(dump)}, [], monkeypatch)


@pytest.mark.parametrize("c", CASES, ids=lambda c: c.name)
def test_the_floor_registers_what_the_plan_registered(c: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine, secret_keys = _engine_config(example_args(c.stack))
    ours = _recorded(PROJECT_DIR / "__main__.py", engine, secret_keys, monkeypatch)
    assert _same_registrations(ours, _floor_of(ours, tmp_path, monkeypatch))


def test_the_floor_gives_the_dependencies_and_secret_outputs_the_plan_gave(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine, secret_keys = _engine_config(example_args("vsphere-example"))
    ours = _recorded(PROJECT_DIR / "__main__.py", engine, secret_keys, monkeypatch)
    policies = [r for r in ours if r["type"].endswith(":SecurityPolicy")]
    assert policies and all(r["depends_on"] and r["additional_secret_outputs"] == ["password"] for r in policies)
    cleanups = {r["urn"] for r in ours if r["type"].endswith(":Cleanup")}
    groups = [r for r in ours if r["type"].endswith(":Group")]
    assert groups and all(set(r["depends_on"]) <= cleanups for r in groups)  # a group waits for the sweep only
    floor = _floor_of(ours, tmp_path, monkeypatch)
    assert _same_registrations(ours, floor)
    assert not _same_registrations(ours, [{**r, "depends_on": []} for r in floor])  # the check sees dependencies


@pytest.mark.parametrize("stack", ["vsphere-example", "baremetal-example"])
def test_the_sdk_records_the_program_stack_of_as_many_resources_in_the_floor(
    stack: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SDK records the program's stack for every resource made through a three-``__init__`` constructor chain
    (a provider SDK's class, a component class, a dynamic resource class). The floor declares components and dynamic
    resources through classes of its own: made by calling ``ComponentResource`` or ``CustomResource`` directly they
    would skip that per-resource cost, which our plan pays (the NSX resources, the bare-metal rulesets)."""
    import pulumi.runtime.resource as sdk_resource

    traced: list[int] = []
    record = sdk_resource._get_stack_trace

    def counting() -> Any:
        trace = record()
        traced.append(len(trace.frames))
        return trace

    monkeypatch.setattr(sdk_resource, "_get_stack_trace", counting)
    engine, secret_keys = _engine_config(example_args(stack))
    ours = _recorded(PROJECT_DIR / "__main__.py", engine, secret_keys, monkeypatch)
    ours_traced = sum(1 for n in traced if n)
    traced.clear()
    _floor_of(ours, tmp_path, monkeypatch)
    assert ours_traced >= len(ours) - 2  # every resource but the stack and (built by from_environment) our component
    assert sum(1 for n in traced if n) >= ours_traced


@pytest.mark.parametrize("c", CASES, ids=lambda c: c.name)
def test_neither_timed_run_imports_program_code(c: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both sides' program modules are imported before the timed run (child.py ``preimport``): an import inside
    it would be start-up cost counted as plan time, on one side only."""
    monkeypatch.setattr(run, "WORK", tmp_path)
    engine, secret_keys = _engine_config(generated_config(c, 1))
    preimport = [*get_platform(c.platform).sdks, *run.program_modules(c)]
    dump = tmp_path / "plan.jsonl"
    base = {"project": PROJECT, "stack": "bench-1", "preimport": preimport}
    ours = run._child({**base, "mode": "plan", "config": engine, "secret_keys": secret_keys, "dump": str(dump)})
    floor = run._child({**base, "mode": "floor", "registrations": str(dump)})
    for side in (ours, floor):
        assert [m for m in side["imported_in_run"] if m.split(".")[0] in ("components", "tests")] == []
    assert ours["resources"] == floor["resources"]
    assert set(run.own_modules(c)) <= set(ours["import_cpu_seconds"])  # timed, for budget (c)


def test_short_plans_get_more_runs_and_long_ones_as_many_as_the_rest() -> None:
    assert (runs_for(0.05), runs_for(1.0), runs_for(30.0)) == (FAST_RUNS, RUNS, RUNS)
    assert FAST_RUNS > RUNS >= 1


def test_the_floor_decodes_each_recorded_registration_when_it_registers_it(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    recorded = [{"urn": "u1", "inputs": {"a": [1, 2]}}, {"urn": "u2", "inputs": {}}]
    path.write_text("".join(json.dumps(r) + "\n" for r in recorded), encoding="utf-8")
    lazy = read_registrations(path)
    assert iter(lazy) is lazy  # an iterator, not a list held by the floor program
    assert list(lazy) == recorded


def _registrations(planned: Any) -> list[dict[str, Any]]:
    return [{**r.to_json(), "custom": r.custom, "provider": r.provider} for r in planned.run.resources]


@pytest.mark.parametrize("c", CASES, ids=lambda c: c.name)
def test_generated_stacks_plan_verify_and_are_economical(c: Any) -> None:
    config = generated_config(c, 3)
    plain, secrets = secrets_of(config)
    planned = plan_config(plain, secrets=secrets)
    assert [x.name for x in planned.topology.clusters] == sorted(x["name"] for x in config["clusters"])
    assert verify(planned.topology, planned.flows, planned.run.resources).ok
    assert economy(c.platform, config, _registrations(planned)).worst == 1.0


def test_grown_clusters_have_distinct_non_overlapping_ranges_and_keep_management() -> None:
    templates = [
        {"name": "mgmt", "controlPlane": {"endpoint": "10.20.1.100", "addresses": ["10.20.1.0/28"]}},
        {"name": "prod", "managedBy": "mgmt", "controlPlane": {"endpoint": "10.20.2.100", "addresses": ["10.20.2.0/28"]}},
    ]
    grown = grow_clusters(templates, 5)
    assert [g["name"] for g in grown] == ["mgmt", "prod", "mgmt1", "prod1", "mgmt2"]
    assert [g.get("managedBy") for g in grown] == [None, "mgmt", None, "mgmt1", None]
    nets = [ipaddress.ip_network(g["controlPlane"]["addresses"][0]) for g in grown]
    assert all(not a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1 :])
    assert str(nets[3]) == "10.128.50.0/28"  # cluster 3 in 10.128.48.0/20, low 12 bits kept


@pytest.mark.parametrize("c", CASES, ids=lambda c: c.name)
def test_200_clusters_fit_and_never_overlap(c: Any) -> None:
    assert MAX_CLUSTERS >= 200
    clusters = generated_config(c, 200)["clusters"]
    assert len({x["name"] for x in clusters}) == 200
    nets = [ipaddress.ip_network(a) for x in clusters for a in x["controlPlane"]["addresses"]]
    assert all(n.subnet_of(ipaddress.IPv4Network("10.128.0.0/9")) for n in nets)  # type: ignore[arg-type]
    assert len(set(nets)) == len(nets)
    blocks = {ipaddress.ip_network(f"{x['controlPlane']['endpoint']}/20", strict=False) for x in clusters}
    assert len(blocks) == 200  # one /20 each


def test_two_addresses_of_a_cluster_that_would_collide_are_refused() -> None:
    template = {"name": "a", "controlPlane": {"endpoint": "10.20.1.100", "addresses": ["10.20.1.0/28", "10.21.1.0/28"]}}
    with pytest.raises(ValueError, match="low 12 bits"):
        grow_clusters([template], 1)
    with pytest.raises(ValueError, match="/20 or smaller"):
        grow_clusters([{"name": "b", "controlPlane": {"endpoint": "10.20.1.100", "addresses": ["10.20.0.0/19"]}}], 1)


def test_snow_gets_devices_and_placement_only_beyond_50_groups_per_device() -> None:
    small = generated_config(case("snow"), 10)
    assert "placement" not in small["aws"] and len(small["endpoints"]["snowDevices"]) == 2
    big = generated_config(case("snow"), 50)
    devices = {d["name"] for d in big["endpoints"]["snowDevices"]}
    per_device: dict[str, int] = {}
    for c in big["clusters"]:
        groups = 1 + bool(c.get("etcd", {}).get("external")) + bool(c.get("workerGroups"))
        for d in big["aws"]["placement"][c["name"]]:
            assert d in devices
            per_device[d] = per_device.get(d, 0) + groups
    assert max(per_device.values()) <= 50


def test_minimums_on_the_vsphere_example() -> None:
    planned = plan_stack("vsphere-example")

    e = economy("vsphere", example_args("vsphere-example"), _registrations(planned))
    counts = {c.kind: (c.registered, c.minimum) for c in e.counts}
    # 2 policies (one per cluster) and their rules: one per (source, destination) pair plus one final rule each
    assert counts["security policies"] == (2, 2)
    assert counts["policy rules"][1] == len({(f.cluster, f.source, f.destination) for f in _enforced(planned)}) + 2
    assert counts["NSX services"][1] == len({(f.protocol, f.ports) for f in _enforced(planned)})


def _enforced(planned: Any) -> list[Any]:
    return [f for f in planned.flows.flows if f.destination in ("control-plane", "etcd", "worker", "control-plane-vip")]


def test_a_duplicated_object_breaks_the_economy() -> None:
    planned = plan_stack("nutanix-example")

    regs = _registrations(planned)
    extra = next(r for r in regs if r["type"].endswith("ServiceGroupsV2"))
    e = economy("nutanix", example_args("nutanix-example"), [*regs, {**extra, "name": "copy", "urn": "urn:copy"}])
    assert e.worst > 1.0


def test_floor_maps_type_tokens_and_names_to_the_provider_sdks() -> None:
    assert sdk_class("aws:ec2/securityGroup:SecurityGroup").__name__ == "SecurityGroup"  # type: ignore[union-attr]
    assert sdk_class("pulumi:providers:aws").__module__.startswith("pulumi_aws")  # type: ignore[union-attr]
    assert sdk_class("eksa-firewall:index:AwsFirewall") is None
    assert _camel("referenced_security_group_id") == "referencedSecurityGroupId"
    assert _snake("isIpv6TrafficAllowed") == "is_ipv6_traffic_allowed"
    assert sdk_modules({"aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "pulumi:providers:aws"}, "pulumi_aws") == [
        "pulumi_aws",
        "pulumi_aws.vpc",
    ]
