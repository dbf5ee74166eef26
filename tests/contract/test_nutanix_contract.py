"""Nutanix: every category, address group, service group and Flow policy the program registers, built as the v4
API objects pulumi-nutanix sends (Nutanix's own SDK model classes and their setters), for every example stack
and every benchmark size."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from tests.contract import cases
from tests.contract.ec2 import ContractError
from tests.contract.nutanix_v4 import (
    ADDRESS_GROUP,
    CATEGORY,
    MAPPING,
    POLICY,
    SDK_ARGS,
    SERVICE_GROUP,
    SUPPORTED_TYPES,
    Builder,
    _engine_to_python,
    _model,
    body,
)
from tests.helpers import Planned

STACKS = cases.stacks("nutanix")


@pytest.mark.parametrize("stack", STACKS, ids=lambda s: s.label)
def test_every_object_builds_as_the_v4_model(stack: cases.Stack) -> None:
    planned = cases.planned(stack)
    builder = Builder(planned.run.resources)
    built: dict[str, int] = dict.fromkeys(SUPPORTED_TYPES, 0)
    for reg in planned.run.resources:
        if reg.type.startswith("nutanix:"):
            builder.build(reg)
            built[reg.type] += 1
    assert all(built.values()), built


def test_the_bodies_carry_the_v4_names() -> None:
    planned = cases.planned(STACKS[0])
    builder = Builder(planned.run.resources)
    policy = next(r for r in planned.run.resources if r.type == POLICY)
    sent = body(builder.build(policy))
    app = next(r["spec"] for r in sent["rules"] if "srcAddressGroupReferences" in r["spec"])
    assert app["$objectType"] == "microseg.v4.config.ApplicationRuleSpec"
    assert app["securedGroupCategoryAssociatedEntityType"] == "VM"  # the provider's schema default
    assert "specs" not in str(sent) and "applicationRuleSpecs" not in str(sent)


def test_the_mapping_names_only_fields_both_sdks_have() -> None:
    """The mapping is written once; it must keep naming pulumi-nutanix fields and v4 model attributes that exist."""
    for kind, (model_ref, fields) in MAPPING.items():
        model = _model(model_ref)
        pulumi_names = set(_engine_to_python(SDK_ARGS[kind]).values())
        for py_name, f in fields.items():
            assert py_name in pulumi_names, f"{kind}: pulumi-nutanix's {SDK_ARGS[kind]} has no {py_name}"
            assert f.v4 in model.swagger_types, f"{kind}: {model.__name__} has no {f.v4}"  # type: ignore[attr-defined]


# --- planted mistakes fail, naming the resource, the field and the vendor's rule ---------------------------


def _planted(reg_type: str, change: Callable[[dict[str, Any]], None], pick: Callable[[dict[str, Any]], bool] = lambda _: True) -> str:
    planned = cases.planned(STACKS[0])
    regs = list(planned.run.resources)
    i = next(i for i, r in enumerate(regs) if r.type == reg_type and pick(dict(r.inputs)))
    inputs = copy.deepcopy(dict(regs[i].inputs))
    change(inputs)
    regs[i] = dataclasses.replace(regs[i], inputs=inputs)
    planted = Planned(run=dataclasses.replace(planned.run, resources=tuple(regs)), topology=planned.topology, flows=planned.flows)
    with pytest.raises(ContractError) as err:
        Builder(planted.run.resources).build(regs[i])
    message = str(err.value)
    assert regs[i].name in message and reg_type in message, message
    return message


def _rule(inputs: dict[str, Any], prefix: str) -> dict[str, Any]:
    return next(r for r in inputs["rules"] if r["description"].startswith(prefix))


def _app(inputs: dict[str, Any], prefix: str) -> dict[str, Any]:
    return _rule(inputs, prefix)["specs"][0]["applicationRuleSpecs"][0]


def _has_ssh(inputs: dict[str, Any]) -> bool:
    return any(r["description"].startswith("From ssh-clients") for r in inputs.get("rules", ()))


def test_a_wrong_field_name_fails() -> None:
    def rename(i: dict[str, Any]) -> None:
        a = _app(i, "From ssh-clients")
        a["srcAddressGroupReference"] = a.pop("srcAddressGroupReferences")

    message = _planted(POLICY, rename, _has_ssh)
    assert "srcAddressGroupReference" in message and "NetworkSecurityPolicyV2RuleSpecApplicationRuleSpecArgs" in message


def test_a_wrong_enum_value_fails() -> None:
    message = _planted(POLICY, lambda i: i.update(state="ENFORCED"))
    assert "NetworkSecurityPolicy.state" in message and "'ENFORCED'" in message and "SecurityPolicyState" in message
    message = _planted(POLICY, lambda i: _rule(i, "Within")["specs"][0]["intraEntityGroupRuleSpecs"][0].update(securedGroupAction="PERMIT"))
    assert "IntraEntityGroupRuleSpec.securedGroupAction" in message and "ALLOW, DENY" in message


def test_a_missing_required_field_fails() -> None:
    message = _planted(POLICY, lambda i: _rule(i, "Within")["specs"][0]["intraEntityGroupRuleSpecs"][0].pop("securedGroupAction"))
    assert "IntraEntityGroupRuleSpec.securedGroupAction is required" in message
    message = _planted(SERVICE_GROUP, lambda i: i.pop("name"))
    assert "ServiceGroup.name is required" in message


def test_text_the_v4_model_refuses_fails() -> None:
    message = _planted(CATEGORY, lambda i: i.update(value='prod "cp", v2'))
    assert "Category.value" in message and "pattern" in message
    message = _planted(
        POLICY, lambda i: i["rules"][1].update(description="Within mgmt control-plane: cilium-geneve (Cilium GENEVE overlay udp 6081)")
    )
    assert "NetworkSecurityPolicyRule.description" in message and "64" in message
    message = _planted(ADDRESS_GROUP, lambda i: i.update(description="admin; jenkins"))
    assert "AddressGroup.description" in message


def test_a_reference_to_the_wrong_kind_of_object_fails() -> None:
    def swap(i: dict[str, Any]) -> None:
        a = _app(i, "From ssh-clients")
        a["serviceGroupReferences"] = list(a["securedGroupCategoryReferences"])

    message = _planted(POLICY, swap, _has_ssh)
    assert "service_group_references[0]" in message and "CategoryV2" in message and "ServiceGroupsV2" in message


def test_what_the_provider_would_drop_fails() -> None:
    def second_subnet(i: dict[str, Any]) -> None:
        a = _app(i, "From ssh-clients")
        a.pop("srcAddressGroupReferences")
        a["srcSubnets"] = [{"value": "10.20.5.0", "prefixLength": 24}, {"value": "10.20.6.0", "prefixLength": 24}]

    message = _planted(POLICY, second_subnet, _has_ssh)
    assert "src_subnets" in message and "[0] only" in message
    message = _planted(POLICY, lambda i: i["rules"][0]["specs"].append(copy.deepcopy(i["rules"][0]["specs"][0])))
    assert "specs" in message and "[0] only" in message
