"""AWS: every security group and rule the program registers, as the EC2 calls pulumi-aws makes for it, checked
against botocore's EC2 model, executed against moto, read back, and interpreted from the API's answer.

Every example stack and every benchmark size; above ``MOTO_FULL_UP_TO`` clusters, moto runs a sample of the
clusters closed under management (every call of the stack is still checked against the model and Snow's list).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from components.engine import Registration
from tests.contract import cases, core
from tests.contract.ec2 import (
    EGRESS_RULE,
    INGRESS_RULE,
    SECURITY_GROUP,
    SNOW_KNOWN_IGNORED,
    ContractError,
    check_call,
    snow_problems,
    text_rules,
)
from tests.contract.ec2_moto import allowed, endpoints_of, groups_from_describe, groups_from_rules, quota_problems, run
from tests.helpers import Planned

MOTO_FULL_UP_TO = 10  # clusters; beyond, moto runs core.sample_clusters

STACKS = cases.stacks("snow")


def _ids(s: cases.Stack) -> str:
    return s.label


def _sample(planned: Planned) -> frozenset[str] | None:
    return None if len(planned.topology.clusters) <= MOTO_FULL_UP_TO else core.sample_clusters(planned)


def _within(inner: core.Network, outer: core.Network) -> bool:
    return inner.version == outer.version and inner.subnet_of(outer)  # type: ignore[arg-type]


def _verdict(
    planned: Planned, clusters: frozenset[str] | None = None, mutate: Callable[[Any], None] | None = None
) -> tuple[core.Report, list[Any]]:
    endpoints = run(planned, clusters) if mutate is None else _run_mutated(planned, clusters, mutate)
    groups = groups_from_describe(planned, endpoints)
    members = [m for g in groups for m in g.members]
    keep = None if clusters is None else (lambda a: any(_within(a.source, m) or _within(a.destination, m) for m in members))
    return core.check("snow", planned, allowed(groups), keep), endpoints


def _run_mutated(planned: Planned, clusters: frozenset[str] | None, mutate: Callable[[Any], None]) -> list[Any]:
    import tests.contract.ec2_moto as moto_run

    original = moto_run.endpoints_of

    def patched(p: Planned, c: frozenset[str] | None = None) -> list[Any]:
        eps = original(p, c)
        mutate(eps)
        return eps

    moto_run.endpoints_of = patched  # type: ignore[assignment]
    try:
        return run(planned, clusters)
    finally:
        moto_run.endpoints_of = original  # type: ignore[assignment]


def _message(report: core.Report) -> str:
    lines = [f"missing {a.source} -> {a.destination} {a.protocol} {a.ports}" for a in report.missing[:10]]
    lines += [f"excess {a.source} -> {a.destination} {a.protocol} {a.ports}" for a in report.excess[:10]]
    return f"{len(report.missing)} missing, {len(report.excess)} in excess:\n" + "\n".join(lines)


# --- every call fits the EC2 model, and Snow's list ---------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS, ids=_ids)
def test_every_call_fits_botocores_ec2_model(stack: cases.Stack) -> None:
    endpoints = endpoints_of(cases.planned(stack))
    assert sum(len(e.calls) for e in endpoints) > 0
    for ep in endpoints:
        for call in ep.calls:
            check_call(call)


@pytest.mark.parametrize("stack", [s for s in STACKS if s.example != "aws-region-example" and s.bench_case != "aws-region"], ids=_ids)
def test_snow_stacks_make_only_the_calls_snow_supports(stack: cases.Stack) -> None:
    endpoints = endpoints_of(cases.planned(stack))
    assert endpoints and all(ep.snow for ep in endpoints)
    for ep in endpoints:
        report = snow_problems(ep.calls)
        assert not report.unsupported, "\n".join(report.unsupported)
        assert report.ignored <= SNOW_KNOWN_IGNORED, (
            f"{ep.provider}: parameters Snow does not document: {sorted(report.ignored - SNOW_KNOWN_IGNORED)}"
        )


def test_the_known_snow_deviation_is_still_there() -> None:
    """SNOW_KNOWN_IGNORED lists what pulumi-aws sends and Snow ignores; an entry that no longer happens must go."""
    ignored: set[tuple[str, str]] = set()
    for ep in endpoints_of(cases.planned(STACKS[0])):
        ignored |= snow_problems(ep.calls).ignored
    assert ignored == SNOW_KNOWN_IGNORED


# --- moto: executed, read back, interpreted ---------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS, ids=_ids)
def test_moto_read_back_allows_exactly_the_required_flows(stack: cases.Stack) -> None:
    planned = cases.planned(stack)
    clusters = _sample(planned)
    report, endpoints = _verdict(planned, clusters)
    assert report.required, "nothing required: the comparison would prove nothing"
    assert report.ok, _message(report)
    assert not quota_problems(endpoints)
    if not any(ep.snow for ep in endpoints):  # the per-rule view of the same groups says the same
        members = [m for g in groups_from_rules(planned, endpoints) for m in g.members]
        keep = None if clusters is None else (lambda a: any(_within(a.source, m) or _within(a.destination, m) for m in members))
        assert core.check("snow", planned, allowed(groups_from_rules(planned, endpoints)), keep).ok
    if clusters is not None:
        assert 0 < len(clusters) < len(planned.topology.clusters)


# --- planted mistakes fail, naming the resource, the field and the rule -----------------------------------


def _with(planned: Planned, reg_type: str, change: Callable[[dict[str, Any]], None]) -> tuple[Planned, Registration]:
    """``planned`` with the first registration of ``reg_type`` changed by ``change`` (on a deep copy of its inputs)."""
    import copy

    regs = list(planned.run.resources)
    i = next(i for i, r in enumerate(regs) if r.type == reg_type)
    inputs = copy.deepcopy(dict(regs[i].inputs))
    change(inputs)
    regs[i] = dataclasses.replace(regs[i], inputs=inputs)
    return dataclasses.replace(planned, run=dataclasses.replace(planned.run, resources=tuple(regs))), regs[i]


def _check_all(planned: Planned) -> None:
    for ep in endpoints_of(planned):
        for call in ep.calls:
            check_call(call)


def _first_call_error(planned: Planned) -> str:
    with pytest.raises(ContractError) as err:
        _check_all(planned)
    return str(err.value)


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(inputs: dict[str, Any]) -> None:
        target: Any = inputs
        for p in path[:-1]:
            target = target[p]
        target[path[-1]] = value

    return change


def _rename(path: list[Any], old: str, new: str) -> Callable[[dict[str, Any]], None]:
    def change(inputs: dict[str, Any]) -> None:
        target: Any = inputs
        for p in path:
            target = target[p]
        target[new] = target.pop(old)

    return change


SNOW = cases.Stack("snow-example", "snow-example", None, 0)
REGION = cases.Stack("aws-region-example", "aws-region-example", None, 0)


@pytest.mark.parametrize(
    ("stack", "reg_type", "change", "expected"),
    [
        (SNOW, SECURITY_GROUP, _rename(["ingress", 0], "cidrBlocks", "cidrBlock"), ["ingress[0]", "cidrBlock", "SecurityGroupIngressArgs"]),
        (SNOW, SECURITY_GROUP, _set(["ingress", 1, "protocol"], "tcpp"), ["IpProtocol", "'tcpp'", "tcp, udp, icmp, icmpv6, -1"]),
        (SNOW, SECURITY_GROUP, lambda i: i["ingress"][1].pop("fromPort"), ["ingress[1].fromPort is missing"]),
        (SNOW, SECURITY_GROUP, _set(["ingress", 1, "description"], 'SSH "admin"\nrow'), ["IpRanges[0].Description", "IpRange.Description"]),
        (SNOW, SECURITY_GROUP, _set(["ingress", 1, "cidrBlocks"], ["10.30.1.1/28"]), ["CidrIp", "network address"]),
        (SNOW, SECURITY_GROUP, _set(["tags", "k" * 128], "v"), ["TagSpecifications", "Tag.Key", "127"]),
        (SNOW, SECURITY_GROUP, _set(["name"], "sg-mine"), ["GroupName", "starts with sg-"]),
        (REGION, INGRESS_RULE, _rename([], "cidrIpv4", "cidrIPv4"), ["cidrIPv4", "SecurityGroupIngressRuleArgs"]),
        (REGION, INGRESS_RULE, lambda i: i.pop("securityGroupId"), ["securityGroupId is missing"]),
        (REGION, EGRESS_RULE, _set(["ipProtocol"], "sctp-ish"), ["IpProtocol", "'sctp-ish'"]),
        (REGION, EGRESS_RULE, _set(["fromPort"], None), ["you must specify a port range"]),
    ],
    ids=[
        "field-name",
        "enum",
        "required",
        "description-charset",
        "cidr",
        "tag-key-length",
        "group-name",
        "rule-field-name",
        "rule-required",
        "rule-enum",
        "rule-ports",
    ],
)
def test_a_planted_mistake_fails_naming_resource_field_and_rule(
    stack: cases.Stack, reg_type: str, change: Callable[[dict[str, Any]], None], expected: list[str]
) -> None:
    planted, reg = _with(cases.planned(stack), reg_type, change)
    message = _first_call_error(planted)
    assert reg.name in message and reg.type in message, message
    for text in expected:
        assert text in message, message


def test_a_vpc_rule_on_a_snow_device_leaves_what_snow_supports() -> None:
    """The rule resources need rule ids (DescribeSecurityGroupRules), which Snow does not have."""
    planned = cases.planned(SNOW)
    region = cases.planned(REGION)
    rule = next(r for r in region.run.resources if r.type == INGRESS_RULE)
    group = next(r for r in planned.run.resources if r.type == SECURITY_GROUP)
    moved = dataclasses.replace(rule, provider=group.provider, inputs={**rule.inputs, "securityGroupId": group.id})
    planted = dataclasses.replace(planned, run=dataclasses.replace(planned.run, resources=(*planned.run.resources, moved)))
    unsupported = [u for ep in endpoints_of(planted) for u in snow_problems(ep.calls).unsupported]
    assert any(rule.name in u and "DescribeSecurityGroupRules" in u for u in unsupported), unsupported


def test_the_read_back_is_what_the_api_answers_not_our_inputs() -> None:
    """Without the provider's revoke of the default allow-all egress, the groups allow more than required; a
    dropped authorization shows as missing."""
    planned = cases.planned(SNOW)

    def keep_default_egress(endpoints: Any) -> None:
        for ep in endpoints:
            ep.calls[:] = [c for c in ep.calls if c.operation != "RevokeSecurityGroupEgress"]

    report, _ = _verdict(planned, mutate=keep_default_egress)
    assert report.excess and not report.missing

    def drop_ingress(endpoints: Any) -> None:
        for ep in endpoints:
            ep.calls[:] = [c for c in ep.calls if c.operation != "AuthorizeSecurityGroupIngress"]

    report, _ = _verdict(planned, mutate=drop_ingress)
    assert report.missing and not report.excess


def test_moto_enforces_the_rule_quota_too() -> None:
    """61 rule entries in one direction: refused by the API (moto: RulesPerSecurityGroupLimitExceeded)."""
    planned = cases.planned(SNOW)

    def widen(endpoints: Any) -> None:
        ep = endpoints[0]
        i = next(i for i, c in enumerate(ep.calls) if c.operation == "AuthorizeSecurityGroupIngress")
        call = ep.calls[i]
        perm = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": f"192.0.2.{n}/32"} for n in range(61)]}
        ep.calls[i] = dataclasses.replace(call, params={**call.params, "IpPermissions": [perm]})

    with pytest.raises(ContractError, match="RulesPerSecurityGroupLimitExceeded"):
        _run_mutated(planned, None, widen)


def test_the_text_rules_come_from_the_ec2_model() -> None:
    rules: Mapping[tuple[str, str], Any] = text_rules()
    assert rules[("Tag", "Key")].max_length == 127 and rules[("Tag", "Key")].forbidden_prefix == "aws:"
    assert rules[("CreateSecurityGroup", "GroupName")].forbidden_prefix == "sg-"
    assert "&" in (rules[("IpRange", "Description")].characters or "")
    assert "&" not in (rules[("UserIdGroupPair", "Description")].characters or "&")


def test_an_ampersand_stays_out_of_group_reference_descriptions(monkeypatch: pytest.MonkeyPatch) -> None:
    """EC2 allows '&' in a CIDR rule's description but not in a group reference's (UserIdGroupPair.Description)."""
    import components.aws.planner as aws_planner
    from tests.bench.generate import case, generated_config, secrets_of
    from tests.helpers import plan_config

    monkeypatch.setattr(aws_planner, "describe", lambda rows: f"EKS-A tools & friends [{', '.join(rows)}]")
    plain, secrets = secrets_of(generated_config(case("aws-region"), 1))
    planned = plan_config(plain, secrets=secrets)
    references = [r for r in planned.run.resources if r.type in (INGRESS_RULE, EGRESS_RULE) and r.inputs.get("referencedSecurityGroupId")]
    assert references and all("&" not in r.inputs["description"] for r in references)
    assert any("&" in r.inputs.get("description", "") for r in planned.run.resources if r.type in (INGRESS_RULE, EGRESS_RULE))
    _check_all(planned)


def test_quota_problems_reads_the_counts_from_the_answer() -> None:
    from tests.contract.ec2_moto import Endpoint

    tags = [{"Key": "eksa-firewall/role", "Value": "worker"}]
    perm = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": f"192.0.2.{n}/32"} for n in range(40)]}
    ref = {**perm, "IpRanges": [], "UserIdGroupPairs": [{"GroupId": f"sg-{n}"} for n in range(21)]}
    group = {"GroupName": "g", "Tags": tags, "IpPermissions": [perm, ref], "IpPermissionsEgress": []}
    region = Endpoint("region", snow=False, groups=[group])
    assert quota_problems([region]) == ["region: group g has 61 IPv4 IpPermissions entries; the quota is 60"]
    snow = Endpoint("snow-a", snow=True, groups=[{**group, "IpPermissions": [perm]}] * 51)
    assert quota_problems([snow]) == ["snow-a: 51 security groups on one Snow device; Snow allows 50"]
