"""Issue 13's hidden check, reproduced: hostile stack files and hardware CSVs (tests/hardening/corpus.py) through the
real command line, in subprocesses: ``plan``, ``verify``, ``acl``, ``export``, and ``diff`` against the platform's
base plan, on every platform.

Each must end with exit 2 and one error on stderr (one ``eksa-firewall: ...`` line, or its head and one ``  - `` line
per problem), no traceback, the same error from every command that reads the stack; or with exit 0 and artefacts
that load in the platform's own grammar and hold only planned rules: the plan is the one the program registers (run
again in-process and checked by tests/hardening/artefacts.py: nft -c and the ruleset interpreter, the NSX schema,
botocore's EC2 model, Nutanix's v4 models), verify passes, the ACL holds canonical CIDRs, Aerleon reads the export
and it allows exactly the flows.
"""

from __future__ import annotations

import pytest

from components.engine import run_stack
from components.flows import FlowSet, build_flows
from components.stackfile import StackConfig, load_project, load_stack
from components.topology import Topology, parse_topology, top_level_keys
from tests.hardening.artefacts import problems
from tests.hardening.cli_run import CaseRun, acl_problems, error_shape, plan_document, run_all, success_shape
from tests.hardening.corpus import PLATFORMS, Case, base_case, cases
from tests.helpers import PROJECT_DIR, Planned

CASES = cases()
ACL_ELSEWHERE = "eksa-firewall: acl exports bare-metal stacks"
BASES = [base_case(p) for p in PLATFORMS]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CaseRun]:
    root = tmp_path_factory.mktemp("corpus")
    bases = run_all(BASES, root, {})
    base_plans = {}
    for run in bases.values():
        assert run.runs["plan"].returncode == 0, run.runs["plan"].stderr
        base_plans[run.case.platform] = run.stack_file.parent / "head.json"
    return {**bases, **run_all(CASES, root, base_plans)}


def test_the_corpus_covers_every_platform_and_item() -> None:
    assert len(CASES) >= 60
    assert {c.platform for c in CASES} == set(PLATFORMS)
    items = {c.why.split(":")[0] for c in CASES}
    assert {"1", "2", "3", "4", "5", "6", "7", "8", "types", "encoding"} <= items
    assert len({c.id for c in CASES}) == len(CASES)


def _topology(run: CaseRun) -> tuple[Topology, FlowSet, StackConfig]:
    """The case's environment, read in-process as the command line reads it."""
    sc = load_stack(load_project(PROJECT_DIR), path=run.stack_file, known_keys=top_level_keys())
    topology = parse_topology(sc.project_values())
    return topology, build_flows(topology), sc


def _accepted(run: CaseRun) -> list[str]:
    runs = run.runs
    out = [p for name in ("plan", "verify", "export", "diff") for p in success_shape(runs[name])]
    out += _acl(run)
    if out:
        return out
    topology, flows, sc = _topology(run)
    planned = Planned(run=run_stack(sc), topology=topology, flows=flows)
    printed = sorted(plan_document(runs["plan"])["resources"], key=lambda r: r["urn"])  # type: ignore[arg-type, index]
    if printed != sorted((r.to_json() for r in planned.run.resources), key=lambda r: r["urn"]):
        out.append("the command line's plan is not the program's registrations")
    out += problems(planned)
    out += _export(run, topology, flows)
    return out


def _acl(run: CaseRun) -> list[str]:
    """``acl``: on bare metal, CSV of canonical CIDRs (or the stack's own refusal); elsewhere, refused in one line."""
    ran = run.runs["acl"]
    if run.case.platform != "baremetal" or ran.returncode == 2:
        return error_shape(ran)
    return success_shape(ran) or acl_problems(ran.stdout)


def _export(run: CaseRun, topology: Topology, flows: FlowSet) -> list[str]:
    """``export``: Aerleon reads the files, and they allow exactly the flows (Aerleon's model, nftables target)."""
    from tests.export.common import allowed_boxes, differences, parse, required_boxes

    try:
        policy = parse(run.export_dir)
    except Exception as exc:  # noqa: BLE001 - whatever Aerleon raises: the export does not load
        return [f"export: Aerleon cannot read it: {type(exc).__name__}: {exc}"]
    return [f"export: {d}" for d in differences(required_boxes(topology, flows), allowed_boxes(policy, "nftables"))]


def _refused(run: CaseRun) -> list[str]:
    """plan and verify (which run the program) refuse it with one error, the same; diff refuses the empty head plan.
    acl and export read the environment but not the platform's section or the secrets: they may refuse it with
    that same error, or succeed, and then their artefacts must be sound."""
    runs = run.runs
    out = [p for name in ("plan", "verify", "diff") for p in error_shape(runs[name])]
    reference = runs["plan"].stderr
    if runs["verify"].stderr != reference:
        out.append(f"verify and plan disagree: {runs['verify'].stderr[:300]!r} / {reference[:300]!r}")
    for name in ("acl", "export"):
        ran = runs[name]
        if ran.returncode == 2:
            out += error_shape(ran)
            if ran.stderr != reference and not ran.stderr.startswith(ACL_ELSEWHERE):
                out.append(f"{name} and plan disagree: {ran.stderr[:300]!r} / {reference[:300]!r}")
            continue
        out += success_shape(ran)
        if not out:
            topology, flows, _ = _topology(run)
            out += _acl(run) if name == "acl" else _export(run, topology, flows)
    return out


def _judge(run: CaseRun) -> list[str]:
    expect = run.case.expect
    if expect == "either":
        expect = "refused" if run.runs["plan"].returncode == 2 else "accepted"
    found = _refused(run) if expect == "refused" else _accepted(run)
    stderr = run.runs["plan"].stderr
    found += [f"stderr does not mention {m!r}: {stderr[:500]!r}" for m in run.case.mentions if m not in stderr]
    found += [f"stderr mentions {m!r}: {stderr[:500]!r}" for m in run.case.never if m in stderr]
    return found


@pytest.mark.parametrize("case", BASES + CASES, ids=lambda c: c.id)
def test_hostile_file_through_the_command_line(case: Case, results: dict[str, CaseRun]) -> None:
    found = _judge(results[case.id])
    assert not found, f"{case.id} ({case.why}; expected {case.expect}):\n" + "\n".join(found[:20])


def test_results_per_platform_and_command(results: dict[str, CaseRun]) -> None:
    """The tally the report quotes: per platform and command, how many runs ended with each exit status."""
    tally: dict[tuple[str, str, int], int] = {}
    for run in results.values():
        for name, ran in run.runs.items():
            key = (run.case.platform, name, ran.returncode)
            tally[key] = tally.get(key, 0) + 1
    lines = [f"{p:11} {c:7} exit {rc}: {n}" for (p, c, rc), n in sorted(tally.items())]
    print("\n".join(lines))
    assert all(rc in (0, 2) for (_, _, rc) in tally), lines
