"""Nutanix: the registered Flow objects as the v4 API bodies pulumi-nutanix sends, built with Nutanix's own SDK
model classes (``ntnx_microseg_py_client`` for Flow, ``ntnx_prism_py_client`` for categories), so the SDK's
setters check required fields, lengths and patterns; enums and types are checked against the SDK's model too.

pulumi-nutanix 0.18.0 (pierskarsenbarg/pulumi-nutanix, provider/go.mod) runs terraform-provider-nutanix at
commit 8eed0bdf7e74 = v2.4.2, which uses microseg-go-client v4.2.2 and prism-go-client v4.3.1. The Python
clients pinned are microseg 4.3.2 (its setters are a superset of 4.2.2's: 4.3 adds the character rule of a
rule's description to 4.2's 64-character limit) and prism 4.3.1 (the provider's version). The engine
names of a registration are pulumi-nutanix's (camelCase of its Python SDK's snake_case names, read from its
own input types); terraform's names are the same except that pulumi pluralizes list blocks. The v4 names
follow from the provider's expand functions (files below, at v2.4.2); this is the one place they are written:

``MAPPING``: per registered type, pulumi-nutanix name -> (v4 attribute of the SDK model, how the value maps).
Where the names differ:
- NetworkSecurityPolicyV2 (``nutanix/services/networkingv2/resource_nutanix_network_security_policies_v2.go``,
  ``ResourceNutanixNetworkSecurityPolicyV2Create``, ``expandNetworkSecurityPolicyRule``,
  ``expandOneOfNetworkSecurityPolicyRuleSpec``): ``vpc_references`` (terraform ``vpc_reference``) ->
  ``vpcReferences``; a rule's ``specs`` (terraform ``spec``) -> ``spec``, a one-of: the provider reads
  ``specs[0]`` only, and in it ``application_rule_specs[0]`` -> ApplicationRuleSpec,
  ``intra_entity_group_rule_specs[0]`` -> IntraEntityGroupRuleSpec (two-env and multi-env isolation likewise);
  in an application rule ``src_subnets[0]`` -> ``srcSubnet`` and ``dest_subnets[0]`` -> ``destSubnet``. What
  follows index 0 is dropped silently: ``check`` refuses it (it would never reach Prism Central).
- CategoryV2 (``nutanix/services/prismv2/resource_nutanix_categories_v2.go``): same names (``owner_uuid`` ->
  ``ownerUuid``).
- AddressGroupsV2 (``resource_nutanix_address_groups_V2.go``, ``expandIPv4AddressList``) and ServiceGroupsV2
  (``resource_nutanix_service_groups_v2.go``, ``expand{TCP,UDP}PortRangeSpec``, ``expandIcmpTypeCodeSpec``):
  same names.
How values travel (terraform SDK semantics the expand functions rely on): top-level fields are read with
``GetOk``, so ``false``, ``0``, ``""`` and empty lists are not sent; a nested block is a map holding every key of
its schema, so an unset nested number or bool is sent as 0/false (ports, ICMP type and code,
``is_all_allowed``, ``is_all_protocol_allowed``) and an unset ``*_category_associated_entity_type`` as its
schema default ``VM``; nested strings and lists are sent when not empty.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from components.engine import Registration
from tests.contract.ec2 import ContractError

CATEGORY = "nutanix:index/categoryV2:CategoryV2"
ADDRESS_GROUP = "nutanix:index/addressGroupsV2:AddressGroupsV2"
SERVICE_GROUP = "nutanix:index/serviceGroupsV2:ServiceGroupsV2"
POLICY = "nutanix:index/networkSecurityPolicyV2:NetworkSecurityPolicyV2"
PROVIDER = "pulumi:providers:nutanix"
SUPPORTED_TYPES = (CATEGORY, ADDRESS_GROUP, SERVICE_GROUP, POLICY)


@dataclass(frozen=True)
class Field:
    """One pulumi-nutanix field: its v4 attribute and how its value travels."""

    v4: str  # the SDK model's attribute (snake_case; the API name is the model's attribute_map entry)
    nested: str | None = None  # the mapping of the object(s) it holds
    first: bool = False  # a list of which the provider sends element [0] only
    zero: Any = None  # nested blocks: what an unset field is sent as (terraform fills every key of the block)


# (model module, class) and pulumi field -> Field. Only the fields the provider's expand functions read.
MAPPING: dict[str, tuple[str, dict[str, Field]]] = {
    CATEGORY: (
        "prism:Category",
        {
            "key": Field("key"),
            "value": Field("value"),
            "description": Field("description"),
            "type": Field("type"),
            "owner_uuid": Field("owner_uuid"),
        },
    ),
    ADDRESS_GROUP: (
        "microseg:AddressGroup",
        {
            "name": Field("name"),
            "description": Field("description"),
            "ipv4_addresses": Field("ipv4_addresses", "ipv4"),
            "ip_ranges": Field("ip_ranges", "ipv4-range"),
        },
    ),
    SERVICE_GROUP: (
        "microseg:ServiceGroup",
        {
            "name": Field("name"),
            "description": Field("description"),
            "tcp_services": Field("tcp_services", "tcp"),
            "udp_services": Field("udp_services", "udp"),
            "icmp_services": Field("icmp_services", "icmp"),
        },
    ),
    POLICY: (
        "microseg:NetworkSecurityPolicy",
        {
            "name": Field("name"),
            "type": Field("type"),
            "description": Field("description"),
            "state": Field("state"),
            "rules": Field("rules", "rule"),
            "is_ipv6_traffic_allowed": Field("is_ipv6_traffic_allowed"),
            "is_hitlog_enabled": Field("is_hitlog_enabled"),
            "scope": Field("scope"),
            "vpc_references": Field("vpc_references"),
        },
    ),
    # nested blocks
    "ipv4": ("common:IPv4Address", {"value": Field("value"), "prefix_length": Field("prefix_length", zero=0)}),
    "ipv4-range": ("microseg:IPv4Range", {"start_ip": Field("start_ip"), "end_ip": Field("end_ip")}),
    "tcp": ("microseg:TcpPortRangeSpec", {"start_port": Field("start_port", zero=0), "end_port": Field("end_port", zero=0)}),
    "udp": ("microseg:UdpPortRangeSpec", {"start_port": Field("start_port", zero=0), "end_port": Field("end_port", zero=0)}),
    "icmp": (
        "microseg:IcmpTypeCodeSpec",
        {"is_all_allowed": Field("is_all_allowed", zero=False), "code": Field("code", zero=0), "type": Field("type", zero=0)},
    ),
    "rule": (
        "microseg:NetworkSecurityPolicyRule",
        {"description": Field("description", zero=""), "type": Field("type"), "specs": Field("spec", "spec", first=True)},
    ),
    "application": (
        "microseg:ApplicationRuleSpec",
        {
            "secured_group_category_associated_entity_type": Field("secured_group_category_associated_entity_type", zero="VM"),
            "secured_group_category_references": Field("secured_group_category_references"),
            "secured_group_entity_group_reference": Field("secured_group_entity_group_reference"),
            "src_allow_spec": Field("src_allow_spec"),
            "dest_allow_spec": Field("dest_allow_spec"),
            "src_category_associated_entity_type": Field("src_category_associated_entity_type", zero="VM"),
            "src_category_references": Field("src_category_references"),
            "src_entity_group_reference": Field("src_entity_group_reference"),
            "dest_category_associated_entity_type": Field("dest_category_associated_entity_type", zero="VM"),
            "dest_category_references": Field("dest_category_references"),
            "dest_entity_group_reference": Field("dest_entity_group_reference"),
            "src_subnets": Field("src_subnet", "ipv4", first=True),
            "dest_subnets": Field("dest_subnet", "ipv4", first=True),
            "src_address_group_references": Field("src_address_group_references"),
            "dest_address_group_references": Field("dest_address_group_references"),
            "service_group_references": Field("service_group_references"),
            "is_all_protocol_allowed": Field("is_all_protocol_allowed", zero=False),
            "tcp_services": Field("tcp_services", "tcp"),
            "udp_services": Field("udp_services", "udp"),
            "icmp_services": Field("icmp_services", "icmp"),
            "network_function_chain_reference": Field("network_function_chain_reference"),
            "network_function_reference": Field("network_function_reference"),
        },
    ),
    "intra": (
        "microseg:IntraEntityGroupRuleSpec",
        {
            "secured_group_category_associated_entity_type": Field("secured_group_category_associated_entity_type", zero="VM"),
            "secured_group_category_references": Field("secured_group_category_references"),
            "secured_group_entity_group_reference": Field("secured_group_entity_group_reference"),
            "secured_group_action": Field("secured_group_action"),
            "secured_group_service_references": Field("secured_group_service_references"),
            "tcp_services": Field("tcp_services", "tcp"),
            "udp_services": Field("udp_services", "udp"),
            "icmp_services": Field("icmp_services", "icmp"),
        },
    ),
}
# A rule's spec: which pulumi list becomes which one-of member (the provider reads element [0] of each).
SPEC_KINDS = {"application_rule_specs": "application", "intra_entity_group_rule_specs": "intra"}
# The pulumi-nutanix input types of each registered type and nested block (their engine names).
SDK_ARGS = {
    CATEGORY: "CategoryV2Args",
    ADDRESS_GROUP: "AddressGroupsV2Args",
    SERVICE_GROUP: "ServiceGroupsV2Args",
    POLICY: "NetworkSecurityPolicyV2Args",
    "ipv4": "AddressGroupsV2Ipv4AddressArgs",
    "ipv4-range": "AddressGroupsV2IpRangeArgs",
    "tcp": "ServiceGroupsV2TcpServiceArgs",
    "udp": "ServiceGroupsV2UdpServiceArgs",
    "icmp": "ServiceGroupsV2IcmpServiceArgs",
    "rule": "NetworkSecurityPolicyV2RuleArgs",
    "spec": "NetworkSecurityPolicyV2RuleSpecArgs",
    "application": "NetworkSecurityPolicyV2RuleSpecApplicationRuleSpecArgs",
    "intra": "NetworkSecurityPolicyV2RuleSpecIntraEntityGroupRuleSpecArgs",
}
_SUBNET_ARGS = {
    "src_subnets": "NetworkSecurityPolicyV2RuleSpecApplicationRuleSpecSrcSubnetArgs",
    "dest_subnets": "NetworkSecurityPolicyV2RuleSpecApplicationRuleSpecDestSubnetArgs",
}
# References a policy makes, and the registered type each must name.
REFERENCES = {
    "secured_group_category_references": CATEGORY,
    "src_category_references": CATEGORY,
    "dest_category_references": CATEGORY,
    "service_group_references": SERVICE_GROUP,
    "secured_group_service_references": SERVICE_GROUP,
    "src_address_group_references": ADDRESS_GROUP,
    "dest_address_group_references": ADDRESS_GROUP,
}


def _engine_to_python(args_class: str) -> dict[str, str]:
    """pulumi-nutanix engine name -> Python SDK name, from the SDK's own input type."""
    import pulumi_nutanix
    from pulumi._types import input_type_py_to_pulumi_names

    return {v: k for k, v in input_type_py_to_pulumi_names(getattr(pulumi_nutanix, args_class)).items()}


_PACKAGES = {
    "prism": "ntnx_prism_py_client.models.prism.v4.config",
    "common": "ntnx_microseg_py_client.models.common.v1.config",
    "microseg": "ntnx_microseg_py_client.models.microseg.v4.config",
}


def _model(ref: str) -> type:
    package, name = ref.split(":")
    return getattr(importlib.import_module(f"{_PACKAGES[package]}.{name}"), name)


def _model_class(model: type, swagger_type: str) -> type | None:
    """The SDK class a swagger type names (``microseg.v4.config.AllowType``), or None for a primitive/list."""
    if "." not in swagger_type or swagger_type.startswith(("list[", "dict(")):
        return None
    module = model.__module__.split(".models.")[0]
    parts = swagger_type.removeprefix("OneOf").split(".")
    try:
        return getattr(importlib.import_module(f"{module}.models.{'.'.join(parts)}"), parts[-1])
    except (ModuleNotFoundError, AttributeError):
        return None


def _enum_values(cls: type) -> frozenset[str] | None:
    """The values of an SDK enum class (public upper-case constants), or None when ``cls`` is a model."""
    if getattr(cls, "swagger_types", None):
        return None
    return frozenset(v for k, v in vars(cls).items() if k.isupper() and not k.startswith("_") and isinstance(v, str))


_PRIMITIVES: dict[str, Callable[[Any], bool]] = {
    "str": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
}


def _required(model: type) -> list[str]:
    """The attributes the SDK's setters refuse to leave unset (``must not be `None```)."""
    out: list[str] = []
    probe = model()
    for attr in model.swagger_types:  # type: ignore[attr-defined]
        prop = getattr(model, attr, None)
        if not isinstance(prop, property) or prop.fset is None:
            continue
        try:
            prop.fset(probe, None)
        except ValueError as exc:
            if "must not be `None`" in str(exc):
                out.append(attr)
    return out


class Builder:
    """Build the v4 model objects of a plan's Nutanix registrations, checking them on the way."""

    def __init__(self, resources: Sequence[Registration]) -> None:
        self.by_id = {r.id: r for r in resources if r.type in SUPPORTED_TYPES}

    def build(self, reg: Registration) -> Any:
        if reg.type not in SUPPORTED_TYPES:
            raise ContractError(f"{reg.type} {reg.name}: no v4 mapping is written for this type (add it to tests/contract/nutanix_v4.py)")
        return self._object(f"{reg.type} {reg.name}", reg.type, reg.inputs, top=True)

    def _object(self, where: str, kind: str, inputs: Mapping[str, Any], *, top: bool = False, args: str | None = None) -> Any:
        model_ref, fields = MAPPING[kind]
        model = _model(model_ref)
        names = _engine_to_python(args or SDK_ARGS[kind])
        unknown = sorted(set(inputs) - set(names))
        if unknown:
            raise ContractError(
                f"{where}: unknown field(s) {', '.join(unknown)}: pulumi-nutanix's {args or SDK_ARGS[kind]} has {', '.join(sorted(names))}"
            )
        given = {names[k]: v for k, v in inputs.items()}
        obj = model()
        for py_name, f in fields.items():
            value = given.get(py_name, f.zero)
            path = f"{where}: {py_name}"
            if value is None or (top and value in (False, 0, "", [])) or (not top and value in ("", [])):
                continue  # not sent: GetOk (top level), or an empty nested string or list
            value = self._value(path, model, py_name, f, value)
            if value is None:
                continue
            self._set(path, model, obj, f.v4, value)
        for attr in _required(model):
            if getattr(obj, attr) is None:
                api = model.attribute_map[attr]  # type: ignore[attr-defined]
                raise ContractError(
                    f"{where}: {model.__name__}.{api} is required by the v4 model (ntnx SDK setter: must not be None) and is not sent"
                )
        return obj

    def _value(self, path: str, model: type, py_name: str, f: Field, value: Any) -> Any:
        if f.first:
            if not isinstance(value, list):
                raise ContractError(f"{path}: a list is expected")
            if len(value) > 1:
                raise ContractError(
                    f"{path}: {len(value)} entries, but the provider sends [0] only and drops the rest silently (expandOneOf..., expandIPv4AddressMicroseg)"
                )
            value = value[0]
        if f.nested == "spec":
            return self._spec(path, value)
        if f.nested is not None:
            args = _SUBNET_ARGS.get(py_name)
            if isinstance(value, list):
                return [self._object(f"{path}[{i}]", f.nested, v, args=args) for i, v in enumerate(value)]
            return self._object(path, f.nested, value, args=args)
        if py_name in REFERENCES:
            for i, ref in enumerate(value):
                target = self.by_id.get(ref)
                if target is None or target.type != REFERENCES[py_name]:
                    got = f"a {target.type.split(':')[-1]}" if target else "no registered object"
                    raise ContractError(f"{path}[{i}] {ref!r} names {got}; it must name a {REFERENCES[py_name].split(':')[-1]}")
        return value

    def _spec(self, path: str, spec: Mapping[str, Any]) -> Any:
        names = _engine_to_python(SDK_ARGS["spec"])
        unknown = sorted(set(spec) - set(names))
        if unknown:
            raise ContractError(
                f"{path}: unknown field(s) {', '.join(unknown)}: pulumi-nutanix's {SDK_ARGS['spec']} has {', '.join(sorted(names))}"
            )
        kinds = [(names[k], v) for k, v in spec.items() if v]
        if len(kinds) != 1 or kinds[0][0] not in SPEC_KINDS:
            raise ContractError(
                f"{path}: a rule spec needs exactly one of {', '.join(SPEC_KINDS)} (the one-of NetworkSecurityPolicyRule.spec); got {[k for k, _ in kinds]}"
            )
        py_name, items = kinds[0]
        if len(items) > 1:
            raise ContractError(f"{path}.{py_name}: {len(items)} entries, but the provider sends [0] only and drops the rest silently")
        return self._object(f"{path}.{py_name}[0]", SPEC_KINDS[py_name], items[0])

    def _set(self, path: str, model: type, obj: Any, attr: str, value: Any) -> None:
        swagger: str = model.swagger_types[attr]  # type: ignore[attr-defined]
        api = model.attribute_map[attr]  # type: ignore[attr-defined]
        self._check_type(f"{path} -> {model.__name__}.{api}", model, swagger, value)
        try:
            setattr(obj, attr, value)
        except ValueError as exc:
            rule = re.sub(r"^Invalid value for `[^`]+`, ", "", str(exc))
            raise ContractError(f"{path} -> {model.__name__}.{api} {value!r}: the v4 model refuses it: {rule}") from None

    def _check_type(self, where: str, model: type, swagger: str, value: Any) -> None:
        if swagger.startswith("list["):
            if not isinstance(value, list):
                raise ContractError(f"{where}: {type(value).__name__} given, the v4 model wants {swagger}")
            for i, v in enumerate(value):
                self._check_type(f"{where}[{i}]", model, swagger[5:-1], v)
            return
        if swagger in _PRIMITIVES:
            if not _PRIMITIVES[swagger](value):
                raise ContractError(f"{where}: {value!r} is not a {swagger} (v4 model)")
            return
        cls = _model_class(model, swagger)
        if cls is None:
            return
        allowed = _enum_values(cls)
        if allowed is not None:
            if value not in allowed:
                raise ContractError(f"{where}: {value!r} is not one of the v4 enum {cls.__name__}: {', '.join(sorted(allowed))}")
        elif not isinstance(value, cls) and not swagger.startswith("OneOf"):
            raise ContractError(f"{where}: a {cls.__name__} is expected (v4 model)")


def body(obj: Any) -> dict[str, Any]:
    """The JSON body the SDK would send for ``obj`` (v4 API names)."""
    from ntnx_microseg_py_client.api_client import ApiClient

    return ApiClient()._ApiClient__sanitize_for_serialization(obj)  # type: ignore[attr-defined]  # the SDK's request body
