"""The NSX bodies against the vendor's model (tests/vsphere/nsx_policy_schema.json, derived from VMware's NSX Policy
API bindings: see nsx_policy_schema.md).

Every body the provider sends — for every example stack (registered by the real program under the mock engine)
and for generated environments of every size the benchmark uses, in every membership, mode and address-family
variant — conforms, as PATCH (the body) and as PUT (with ``_revision``). The emulator applies the same schema
to everything it accepts (nsx_emulator.validate), so the lifecycle tests cannot pass with a body NSX would refuse.
A planted wrong field name, enum value or missing required field is refused, naming the resource, the field
and the vendor's rule.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from components.vsphere.nsx_provider import plain_numbers
from tests.bench.generate import case, generated_config
from tests.contract.cases import SIZES
from tests.environments import environment
from tests.helpers import PROJECT_DIR, plan_stack

from .nsx_schema import schema_errors
from .support import OWNER, plan_of

NSX_TYPES = {"pulumi-python:dynamic/nsx:Group": "Group", "pulumi-python:dynamic/nsx:Service": "Service", "pulumi-python:dynamic/nsx:SecurityPolicy": "SecurityPolicy"}  # fmt: skip
VSPHERE_STACKS = sorted(
    p.name.split(".")[1] for p in (PROJECT_DIR / "stacks").glob("Pulumi.*.yaml") if "platform: vsphere" in p.read_text()
)


def sent(body: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """What the provider sends for a registered body: PATCH (create) and PUT (update, with the revision)."""
    patch = {k: v for k, v in plain_numbers(body).items() if not k.startswith("_")}
    yield "PATCH", patch
    yield "PUT", {**patch, "_revision": 7}


def violations(name: str, resource_type: str, body: dict[str, Any]) -> list[str]:
    return [f"{name} ({verb}) {e}" for verb, b in sent(body) for e in schema_errors(resource_type, b)]


def planned_bodies(config: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    p = plan_of(config)
    for g in p.groups:
        yield g.path(p.domain), "Group", g.body(OWNER)
    for s in p.services:
        yield s.path, "Service", s.body(OWNER)
    for pol in p.policies:
        yield pol.path(p.domain), "SecurityPolicy", pol.body(OWNER)


def variants(config: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    yield "default", config
    for label, nsx in (
        ("tag membership", {"membership": "tag"}),
        ("vmName membership", {"membership": {"control-plane": "tag", "etcd": "vmName", "worker": "vmName"}}),
        ("audit, logged, applied to the DFW", {"mode": "audit", "logAllowed": True, "appliedTo": "dfw", "category": "Environment"}),
    ):
        c = copy.deepcopy(config)
        c["vsphere"].setdefault("nsx", {}).update(nsx)
        yield label, c
    dual = copy.deepcopy(config)  # IPv4 and IPv6 peers: one IPAddressExpression per family
    dual["clients"]["api"] = [*dual["clients"]["api"], "2001:db8:30::/48"]
    dual["adminMachine"]["addresses"] = [*dual["adminMachine"]["addresses"], "2001:db8:20::10"]
    yield "dual-stack peers", dual


@pytest.mark.parametrize("stack", VSPHERE_STACKS)
def test_every_body_an_example_stack_registers_conforms(stack: str) -> None:
    run = plan_stack(stack).run
    nsx = [r for r in run.resources if r.type in NSX_TYPES]
    assert nsx, f"{stack} registers no NSX object"
    problems = [p for r in nsx for p in violations(r.name, NSX_TYPES[r.type], dict(r.inputs["body"]))]
    assert problems == []


@pytest.mark.parametrize("size", SIZES)
def test_every_body_of_generated_environments_conforms(size: int) -> None:
    base = generated_config(case("vsphere"), size)
    checked = 0
    for label, config in variants(base):
        for path, resource_type, body in planned_bodies(config):
            assert violations(f"{label}: {path}", resource_type, body) == []
            checked += 1
    assert checked > 10 * size


def test_dual_stack_groups_hold_one_expression_per_family() -> None:
    config = dict(variants(environment("vsphere")))["dual-stack peers"]
    group = next(body for path, _, body in planned_bodies(config) if path.endswith("peer-api-clients"))
    families = [e["ip_addresses"] for e in group["expression"] if e["resource_type"] == "IPAddressExpression"]
    assert families == [["10.20.0.0/16"], ["2001:db8:30::/48"]]  # the base's API clients, and the IPv6 range added
    assert group["expression"][1] == {"resource_type": "ConjunctionOperator", "conjunction_operator": "OR"}


# --- the schema refuses what NSX would refuse, and says where and why -------------------------------------------


def one_of_each() -> dict[str, tuple[str, dict[str, Any]]]:
    bodies = {rt: (path, body) for path, rt, body in planned_bodies(environment("vsphere", vsphere={"nsx": {"membership": "tag"}}))}
    return bodies


PLANTED = [
    (
        "Group",
        "wrong field name",
        lambda b: b["expression"][0].update(oprator=b["expression"][0].pop("operator")),
        "$.expression[0]",
        "Additional properties",
    ),
    (
        "Group",
        "wrong enum value",
        lambda b: b["expression"][0].update(member_type="VM"),
        "$.expression[0].member_type",
        "'VM' is not one of",
    ),
    (
        "Group",
        "missing required field",
        lambda b: b["expression"][0].pop("resource_type"),
        "$.expression[0]",
        "'resource_type' is a required property",
    ),
    (
        "Service",
        "wrong field name",
        lambda b: b["service_entries"][0].update(destination_port=b["service_entries"][0].pop("destination_ports")),
        "$.service_entries[0]",
        "Additional properties",
    ),
    (
        "Service",
        "wrong enum value",
        lambda b: b["service_entries"][0].update(l4_protocol="SCTP"),
        "$.service_entries[0].l4_protocol",
        "'SCTP' is not one of",
    ),
    (
        "Service",
        "missing required field",
        lambda b: b["service_entries"][0].pop("resource_type"),
        "$.service_entries[0]",
        "'resource_type' is a required property",
    ),
    (
        "SecurityPolicy",
        "wrong field name",
        lambda b: b["rules"][0].update(source_group=b["rules"][0].pop("source_groups")),
        "$.rules[0]",
        "Additional properties",
    ),
    ("SecurityPolicy", "wrong enum value", lambda b: b["rules"][0].update(action="PERMIT"), "$.rules[0].action", "'PERMIT' is not one of"),
    ("SecurityPolicy", "out of the vendor's range", lambda b: b.update(sequence_number=1_000_000), "$.sequence_number", "999999"),
    (
        "SecurityPolicy",
        "ANY with other groups",
        lambda b: b["rules"][0].update(source_groups=["ANY", "/infra/domains/default/groups/x"]),
        "$.rules[0].source_groups",
        "must be the ONLY element",
    ),
]


@pytest.mark.parametrize(("resource_type", "what", "plant", "where", "message"), PLANTED, ids=[f"{p[0]}: {p[1]}" for p in PLANTED])
def test_a_planted_mistake_is_refused_naming_the_resource_field_and_rule(
    resource_type: str, what: str, plant: Any, where: str, message: str
) -> None:
    path, body = one_of_each()[resource_type]
    assert violations(path, resource_type, body) == []
    broken = copy.deepcopy(body)
    plant(broken)
    problems = violations(path, resource_type, broken)
    assert problems, what
    assert all(p.startswith(path) and "vendor rule:" in p for p in problems)
    assert any(where in p and message in p for p in problems), problems
