"""The EC2 API calls pulumi-aws makes for our registrations, checked against the vendors' own models.

pulumi-aws 7.51 runs terraform-provider-aws v6 (hashicorp/terraform-provider-aws, read at commit 01606926a0c0
for the security group; the rule resources in their aws-sdk-go-v2 form, ``securityGroupRuleResource``). What
each registered type turns into, on create:

``aws:ec2/securityGroup:SecurityGroup`` (``internal/service/ec2/vpc_security_group.go``)
  - ``resourceSecurityGroupCreate``: CreateSecurityGroup{GroupName, Description, VpcId?, TagSpecifications
    (``getTagSpecificationsIn``: the resource's tags, resource type ``security-group``)}; DescribeSecurityGroups
    (``waitSecurityGroupCreated``); RevokeSecurityGroupEgress of the default allow-all IPv4 rule
    {IpProtocol -1, FromPort 0, ToPort 0, 0.0.0.0/0} and of the IPv6 one (::/0; ``InvalidPermission.NotFound`` and
    an ``InvalidParameterValue`` about ``remote-ipv6-range`` are ignored); then ``resourceSecurityGroupUpdate``.
  - ``updateSecurityGroupRules`` (per direction, only when the config has blocks): DescribeSecurityGroups, then
    one Authorize{Ingress,Egress}{GroupId, IpPermissions} with ``expandIPPerms(securityGroupCollapseRules(...))``:
    blocks split into one rule per CIDR (``securityGroupExpandRules``, a set: duplicates vanish), regrouped by
    (protocol, from_port, to_port, description); the protocol goes through ``protocolForValue`` (6 -> tcp,
    all -> -1); ports are sent unless the protocol is -1 (then they must be 0); the block's description goes
    on every IpRange/Ipv6Range/PrefixListId/UserIdGroupPair; ``self`` adds the group itself as a pair.
  - Read: DescribeSecurityGroups.
``aws:vpc/securityGroup{Ingress,Egress}Rule`` (``internal/service/ec2/vpc_security_group_ingress_rule.go``, the
egress file is its mirror)
  - ``create``: Authorize{Ingress,Egress}{GroupId: security_group_id, IpPermissions: [``expandIPPermission``]}:
    FromPort/IpProtocol/ToPort as given (no protocol normalisation), the one source as IpRanges /
    Ipv6Ranges / PrefixListIds / UserIdGroupPairs[{GroupId}], each with the rule's description; the rule id
    is ``SecurityGroupRules[0].SecurityGroupRuleId`` of the answer. Tags, if any: CreateTags. Read:
    DescribeSecurityGroupRules{SecurityGroupRuleIds} (``findSecurityGroupIngressRuleByID``).

Checks on every call (``check_call``): botocore's ``ParamValidator`` against the EC2 service model (shapes,
required members, types; offline), the text rules EC2's own model documents for names, descriptions and tags
(``TEXT_RULES``, read from the model's documentation at test time), the IpProtocol/port rules of
``IpPermission``, and CIDRs as terraform validates them (network addresses). Snow: ``snow_problems``.
"""

from __future__ import annotations

import html
import ipaddress
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import botocore.session
from botocore.model import ServiceModel, Shape, StructureShape
from botocore.validate import ParamValidator

from components.engine import Registration

SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
PROVIDER = "pulumi:providers:aws"
SUPPORTED_TYPES = (SECURITY_GROUP, INGRESS_RULE, EGRESS_RULE)

# pulumi-aws's default description (pulumi_aws/ec2/security_group.py: "Defaults to `Managed by Pulumi`").
DEFAULT_DESCRIPTION = "Managed by Pulumi"
# protocolForValue (vpc_security_group.go): the names it knows and their numbers.
_PROTOCOL_NUMBERS = {"icmpv6": 58, "udp": 17, "tcp": 6, "icmp": 1, "all": -1}


class ContractError(AssertionError):
    """A rendered object the vendor's model refuses: names the resource, the field and the vendor's rule."""


@dataclass(frozen=True)
class Call:
    """One EC2 API call, with where its parameters come from (for messages)."""

    operation: str
    params: Mapping[str, Any]
    resource: str  # "<type> <logical name>"
    source: str  # the registration fields the parameters come from
    registration: str  # the registration's id: answers to this call are its real ids
    tolerate: tuple[str, ...] = ()  # error codes the provider ignores for this call

    def where(self, path: str = "") -> str:
        return f"{self.resource}: {self.source} -> {self.operation}{('.' + path) if path else ''}"


# --- the provider's mapping ---------------------------------------------------------------------------


def calls_for(reg: Registration) -> list[Call]:
    """The calls pulumi-aws makes to create ``reg`` (see the module docstring for the provider source)."""
    if reg.type == SECURITY_GROUP:
        return _security_group(reg)
    if reg.type in (INGRESS_RULE, EGRESS_RULE):
        return _vpc_rule(reg)
    raise ContractError(f"{reg.type} {reg.name}: no EC2 mapping is written for this type (add it to tests/contract/ec2.py)")


def _label(reg: Registration) -> str:
    return f"{reg.type} {reg.name}"


def _sdk_fields(reg_type: str) -> dict[str, frozenset[str]]:
    """The engine names pulumi-aws's own input types accept, per object (the group, its inline rule blocks)."""
    import pulumi_aws as aws
    from pulumi._types import input_type_py_to_pulumi_names as names

    if reg_type == SECURITY_GROUP:
        return {
            "": frozenset(names(aws.ec2.SecurityGroupArgs).values()),
            "rule": frozenset(names(aws.ec2.SecurityGroupIngressArgs).values())
            | frozenset(names(aws.ec2.SecurityGroupEgressArgs).values()),
        }
    rule_args = aws.vpc.SecurityGroupIngressRuleArgs if reg_type == INGRESS_RULE else aws.vpc.SecurityGroupEgressRuleArgs
    return {"": frozenset(names(rule_args).values())}


def _known_fields(where: str, given: Mapping[str, Any], known: frozenset[str], what: str) -> None:
    unknown = sorted(set(given) - known)
    if unknown:
        raise ContractError(f"{where}: unknown field(s) {', '.join(unknown)}: pulumi-aws's {what} has {', '.join(sorted(known))}")


def _security_group(reg: Registration) -> list[Call]:
    inputs, label, gid = reg.inputs, _label(reg), reg.id or reg.urn
    fields = _sdk_fields(SECURITY_GROUP)
    _known_fields(label, inputs, fields[""], "SecurityGroupArgs")
    name = inputs.get("name")
    if name is None:
        # no name: the provider generates one from name_prefix (or "terraform-") plus a unique suffix
        name = f"{inputs.get('namePrefix', 'terraform-')}{'0' * 26}"
    create: dict[str, Any] = {"GroupName": name, "Description": inputs.get("description", DEFAULT_DESCRIPTION)}
    if inputs.get("vpcId") is not None:
        create["VpcId"] = inputs["vpcId"]
    tags = inputs.get("tags") or {}
    if tags:
        create["TagSpecifications"] = [
            {"ResourceType": "security-group", "Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]}
        ]
    calls = [
        Call("CreateSecurityGroup", create, label, "name, description, vpcId, tags", gid),
        Call("DescribeSecurityGroups", {"GroupIds": [gid]}, label, "(wait for the group)", gid),
    ]
    for family, peer in (("IpRanges", {"CidrIp": "0.0.0.0/0"}), ("Ipv6Ranges", {"CidrIpv6": "::/0"})):
        revoke = {"GroupId": gid, "IpPermissions": [{"FromPort": 0, "ToPort": 0, "IpProtocol": "-1", family: [peer]}]}
        tolerate = () if family == "IpRanges" else ("InvalidPermission.NotFound", "InvalidParameterValue")
        calls.append(Call("RevokeSecurityGroupEgress", revoke, label, "(default allow-all egress)", gid, tolerate))
    for direction, operation in (("ingress", "AuthorizeSecurityGroupIngress"), ("egress", "AuthorizeSecurityGroupEgress")):
        blocks = inputs.get(direction)
        if not blocks:
            continue
        for i, block in enumerate(blocks):
            _known_fields(f"{label}: {direction}[{i}]", block, fields["rule"], f"SecurityGroup{direction.title()}Args")
            for required in ("protocol", "fromPort", "toPort"):
                if block.get(required) is None:
                    raise ContractError(
                        f"{label}: {direction}[{i}].{required} is missing: terraform's aws_security_group {direction} block requires it"
                    )
        perms = _inline_permissions(label, direction, blocks, gid)
        calls.append(Call("DescribeSecurityGroups", {"GroupIds": [gid]}, label, "(before updating rules)", gid))
        calls.append(Call(operation, {"GroupId": gid, "IpPermissions": perms}, label, direction, gid))
    calls.append(Call("DescribeSecurityGroups", {"GroupIds": [gid]}, label, "(read)", gid))
    return calls


def protocol_for_value(value: Any) -> str:
    """terraform-provider-aws's protocolForValue: -1/all -> -1, a known name stays, a known number -> its name."""
    p = str(value).lower()
    if p in ("-1", "all"):
        return "-1"
    if p in _PROTOCOL_NUMBERS:
        return p
    try:
        n = int(p)
    except ValueError:
        return p
    return next((k for k, v in _PROTOCOL_NUMBERS.items() if v == n), p)


def _inline_permissions(label: str, direction: str, blocks: Sequence[Mapping[str, Any]], gid: str) -> list[dict[str, Any]]:
    """expandIPPerms(securityGroupCollapseRules(securityGroupExpandRules(blocks)))."""
    collapsed: dict[tuple[str, int, int, str], dict[str, list[Any]]] = {}
    for i, b in enumerate(blocks):
        proto = protocol_for_value(b["protocol"])
        lo, hi = int(b["fromPort"]), int(b["toPort"])
        if proto == "-1" and (lo or hi):
            raise ContractError(
                f"{label}: {direction}[{i}]: from_port ({lo}) and to_port ({hi}) must both be 0 to use the 'ALL' -1 protocol (expandIPPerms)"
            )
        entry = collapsed.setdefault((proto, lo, hi, b.get("description") or ""), {"v4": [], "v6": [], "pl": [], "sg": []})
        for key, bucket in (("cidrBlocks", "v4"), ("ipv6CidrBlocks", "v6"), ("prefixListIds", "pl"), ("securityGroups", "sg")):
            for v in b.get(key) or ():
                if v not in entry[bucket]:
                    entry[bucket].append(v)
        if b.get("self") and gid not in entry["sg"]:
            entry["sg"].append(gid)
    perms: list[dict[str, Any]] = []
    for (proto, lo, hi, desc), e in collapsed.items():
        perm: dict[str, Any] = {"IpProtocol": proto}
        if proto != "-1":
            perm["FromPort"], perm["ToPort"] = lo, hi
        described = {"Description": desc} if desc else {}
        if e["sg"]:
            perm["UserIdGroupPairs"] = [{"GroupId": g, **described} for g in e["sg"]]
        if e["v4"]:
            perm["IpRanges"] = [{"CidrIp": c, **described} for c in e["v4"]]
        if e["v6"]:
            perm["Ipv6Ranges"] = [{"CidrIpv6": c, **described} for c in e["v6"]]
        if e["pl"]:
            perm["PrefixListIds"] = [{"PrefixListId": p, **described} for p in e["pl"]]
        perms.append(perm)
    return perms


def _vpc_rule(reg: Registration) -> list[Call]:
    inputs, label, rid = reg.inputs, _label(reg), reg.id or reg.urn
    _known_fields(
        label,
        inputs,
        _sdk_fields(reg.type)[""],
        "SecurityGroupIngressRuleArgs" if reg.type == INGRESS_RULE else "SecurityGroupEgressRuleArgs",
    )
    for required in ("ipProtocol", "securityGroupId"):
        if inputs.get(required) is None:
            raise ContractError(f"{label}: {required} is missing: terraform's aws_vpc_security_group_*_rule requires it")
    sources = [k for k in ("cidrIpv4", "cidrIpv6", "prefixListId", "referencedSecurityGroupId") if inputs.get(k) is not None]
    if len(sources) != 1:
        raise ContractError(
            f"{label}: {', '.join(sources) or 'no source'}: exactly one of cidrIpv4, cidrIpv6, prefixListId, "
            "referencedSecurityGroupId is required (ConfigValidators ExactlyOneOf)"
        )
    for port in ("fromPort", "toPort"):
        if inputs.get(port) is not None and not -1 <= int(inputs[port]) <= 65535:
            raise ContractError(f"{label}: {port} {inputs[port]} is outside -1..65535 (int64validator.Between(-1, 65535))")
    perm: dict[str, Any] = {"IpProtocol": inputs["ipProtocol"]}
    for port, param in (("fromPort", "FromPort"), ("toPort", "ToPort")):
        if inputs.get(port) is not None:
            perm[param] = int(inputs[port])
    described = {"Description": inputs["description"]} if inputs.get("description") is not None else {}
    source = sources[0]
    if source == "cidrIpv4":
        perm["IpRanges"] = [{"CidrIp": inputs[source], **described}]
    elif source == "cidrIpv6":
        perm["Ipv6Ranges"] = [{"CidrIpv6": inputs[source], **described}]
    elif source == "prefixListId":
        perm["PrefixListIds"] = [{"PrefixListId": inputs[source], **described}]
    else:
        perm["UserIdGroupPairs"] = [{"GroupId": inputs[source], **described}]
    operation = "AuthorizeSecurityGroupIngress" if reg.type == INGRESS_RULE else "AuthorizeSecurityGroupEgress"
    calls = [Call(operation, {"GroupId": inputs["securityGroupId"], "IpPermissions": [perm]}, label, ", ".join(sorted(inputs)), rid)]
    if inputs.get("tags"):
        tags = [{"Key": k, "Value": v} for k, v in sorted(inputs["tags"].items())]
        calls.append(Call("CreateTags", {"Resources": [rid], "Tags": tags}, label, "tags", rid))
    calls.append(Call("DescribeSecurityGroupRules", {"SecurityGroupRuleIds": [rid]}, label, "(read)", rid))
    return calls


# --- the vendor's model ---------------------------------------------------------------------------------


@cache
def ec2_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("ec2")


@dataclass(frozen=True)
class TextRule:
    """A text constraint as the EC2 model documents it for one member."""

    shape: str
    member: str
    max_length: int
    characters: str | None = None  # the punctuation allowed besides a-z, A-Z, 0-9 and spaces; None: any
    forbidden_prefix: str | None = None
    text: str = ""  # the model's own words

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, str):
            return f"is {type(value).__name__}, not a string"
        if len(value) > self.max_length:
            return f"is {len(value)} characters long"
        if self.forbidden_prefix and value.lower().startswith(self.forbidden_prefix):
            return f"starts with {self.forbidden_prefix}"
        if self.characters is not None:
            bad = sorted({c for c in value if not (c.isascii() and (c.isalnum() or c == " " or c in self.characters))})
            if bad:
                return f"has characters outside the allowed set: {''.join(bad)!r}"
        return None


_LENGTH = re.compile(r"(?:Up to|maximum of) (\d+) (?:Unicode )?characters")
_CHARS = re.compile(r"(?:Valid characters:|Allowed characters are) a-z, A-Z, 0-9, spaces, and (\S+)")
_PREFIX = re.compile(r"(?:Can't start with|May not begin with) (\S+?)\.?(?:\s|$)")


def text_rule(shape: str, member: str) -> TextRule:
    """Read the constraint of ``shape.member`` from the EC2 model's documentation; fail if it says none."""
    doc = ec2_model().shape_for(shape).members[member].documentation  # type: ignore[attr-defined]
    plain = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", doc)).split())  # the words, without the HTML
    length = _LENGTH.search(plain)
    if length is None:
        raise AssertionError(f"the EC2 model no longer documents a length for {shape}.{member}: {doc!r}")
    chars, prefix = _CHARS.search(plain), _PREFIX.search(plain)
    return TextRule(
        shape=shape,
        member=member,
        max_length=int(length.group(1)),
        characters=chars.group(1) if chars else None,
        forbidden_prefix=prefix.group(1).lower() if prefix else None,
        text=plain,
    )


@cache
def text_rules() -> dict[tuple[str, str], TextRule]:
    """(operation or shape, parameter) -> rule, for every free-text parameter our calls carry."""
    return {
        ("CreateSecurityGroup", "GroupName"): text_rule("CreateSecurityGroupRequest", "GroupName"),
        ("CreateSecurityGroup", "Description"): text_rule("CreateSecurityGroupRequest", "Description"),
        ("IpRange", "Description"): text_rule("IpRange", "Description"),
        ("Ipv6Range", "Description"): text_rule("Ipv6Range", "Description"),
        ("UserIdGroupPair", "Description"): text_rule("UserIdGroupPair", "Description"),
        ("PrefixListId", "Description"): text_rule("PrefixListId", "Description"),
        ("Tag", "Key"): text_rule("Tag", "Key"),
        ("Tag", "Value"): text_rule("Tag", "Value"),
    }


def check_call(call: Call) -> None:
    """Raise ContractError when the EC2 model refuses ``call``'s parameters."""
    op = ec2_model().operation_model(call.operation)
    shape: StructureShape = op.input_shape  # type: ignore[assignment]
    report = ParamValidator().validate(dict(call.params), shape)
    if report.has_errors():
        raise ContractError(f"{call.where()}: botocore's EC2 model refuses the parameters:\n{report.generate_report()}")
    rules = text_rules()
    for path, shape_name, member, value in _walk(shape, call.params, ""):
        rule = rules.get((call.operation, member)) if shape_name == shape.name else rules.get((shape_name, member))
        if rule is not None and (why := rule.problem(value)) is not None:
            raise ContractError(f"{call.where(path)} {value!r} {why}: EC2 model, {rule.shape}.{rule.member}: {rule.text}")
    for i, perm in enumerate(call.params.get("IpPermissions") or ()):
        if call.operation.startswith("Authorize"):
            _check_permission(call, f"IpPermissions[{i}]", perm)


def _walk(shape: Shape, value: Any, path: str) -> Iterator[tuple[str, str, str, Any]]:
    """(path, structure shape name, member name, value) for every structure member in ``value``."""
    if isinstance(shape, StructureShape) and isinstance(value, Mapping):
        members: Mapping[str, Shape] = shape.members  # type: ignore[assignment]
        for k, v in value.items():
            member = members.get(k)
            if member is None:
                continue
            p = f"{path}.{k}" if path else k
            yield p, shape.name, k, v
            yield from _walk(member, v, p)
    elif shape.type_name == "list" and isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(shape.member, v, f"{path}[{i}]")  # type: ignore[attr-defined]


_PROTOCOL_DOC = "For <code>tcp</code>, <code>udp</code>, and <code>icmp</code>, you must specify a port range."


def _check_permission(call: Call, path: str, perm: Mapping[str, Any]) -> None:
    """IpPermission's documented rules (EC2 model, IpPermission.IpProtocol/FromPort/ToPort) and terraform's CIDR checks."""
    doc = ec2_model().shape_for("IpPermission").members["IpProtocol"].documentation  # type: ignore[attr-defined]
    assert _PROTOCOL_DOC in doc, "the EC2 model changed its IpProtocol rule: re-read it and update _check_permission"
    proto = str(perm.get("IpProtocol"))
    lo, hi = perm.get("FromPort"), perm.get("ToPort")
    known = proto in ("tcp", "udp", "icmp", "icmpv6", "-1") or (proto.isdigit() and 0 <= int(proto) <= 255)
    if not known:
        raise ContractError(
            f"{call.where(path + '.IpProtocol')} {proto!r}: EC2 model, IpPermission.IpProtocol: tcp, udp, icmp, icmpv6, -1 or a protocol number"
        )
    if proto in ("tcp", "udp", "6", "17"):
        if lo is None or hi is None:
            raise ContractError(
                f"{call.where(path)}: EC2 model, IpPermission.IpProtocol: for tcp, udp and icmp you must specify a port range"
            )
        if not (0 <= lo <= hi <= 65535):
            raise ContractError(
                f"{call.where(path)}: ports {lo}-{hi}: EC2 model, IpPermission.FromPort/ToPort: the start and end of a TCP/UDP port range"
            )
    if proto in ("icmp", "icmpv6", "1", "58"):
        if proto in ("icmp", "1") and (lo is None or hi is None):
            raise ContractError(
                f"{call.where(path)}: EC2 model, IpPermission.IpProtocol: for tcp, udp and icmp you must specify a port range"
            )
        if (lo is not None and not -1 <= lo <= 255) or (hi is not None and not -1 <= hi <= 255):
            raise ContractError(
                f"{call.where(path)}: ICMP type {lo} code {hi}: EC2 model, IpPermission.FromPort/ToPort: an ICMP type/code or -1"
            )
        if lo == -1 and hi not in (-1, None):
            raise ContractError(
                f"{call.where(path)}: EC2 model, IpPermission.ToPort: if the start port is -1 (all ICMP types), the end port must be -1"
            )
    for key, cidr_key, version in (("IpRanges", "CidrIp", 4), ("Ipv6Ranges", "CidrIpv6", 6)):
        for j, r in enumerate(perm.get(key) or ()):
            text = str(r.get(cidr_key))
            try:
                net = ipaddress.ip_network(text, strict=True)
            except ValueError as exc:
                raise ContractError(
                    f"{call.where(f'{path}.{key}[{j}].{cidr_key}')} {text!r}: not an IPv{version} CIDR network address "
                    f"(terraform-provider-aws verify.ValidIPv{version}CIDRNetworkAddress): {exc}"
                ) from None
            if net.version != version:
                raise ContractError(
                    f"{call.where(f'{path}.{key}[{j}].{cidr_key}')} {text!r}: an IPv{net.version} network in an IPv{version} field"
                )


# --- Snow -------------------------------------------------------------------------------------------------

# What the Snowball Edge EC2-compatible endpoint supports (awsdocs/aws-snowball-developer-guide,
# doc_source/using-ec2-endpoint.md, last revision before archiving: "Supported Amazon EC2 API operations" and the
# CLI list; /work/shared/reference/aws-snow.md). Operation -> the parameters Snow documents for it, or None
# where it documents the operation without listing parameters. "If a command or option isn't listed
# following, it's not supported. You can declare some unsupported options along with a command. However,
# these are ignored."
SNOW_OPERATIONS: dict[str, frozenset[str] | None] = {
    "CreateSecurityGroup": frozenset({"GroupName", "Description"}),  # create-security-group: --group-name, --description
    "DeleteSecurityGroup": None,
    "DescribeSecurityGroups": None,
    "AuthorizeSecurityGroupIngress": None,
    "AuthorizeSecurityGroupEgress": None,
    "RevokeSecurityGroupIngress": None,
    "RevokeSecurityGroupEgress": None,
    "CreateTags": None,
    "DeleteTags": None,
    "DescribeTags": None,
}

# Parameters pulumi-aws sends that Snow does not document, known and reported (not fixed, see the note in
# docs/platforms/snow.md and the issue-17 report): TagSpecifications on CreateSecurityGroup comes from the
# provider's transparent tagging (getTagSpecificationsIn); Snow lists only group name and description, so the
# tags are ignored on create and applied by CreateTags on the next `pulumi up` (UpdateTags).
SNOW_KNOWN_IGNORED: frozenset[tuple[str, str]] = frozenset({("CreateSecurityGroup", "TagSpecifications")})


@dataclass
class SnowReport:
    unsupported: list[str] = field(default_factory=list)  # calls Snow does not support at all: a failure
    ignored: set[tuple[str, str]] = field(default_factory=set)  # (operation, parameter) Snow ignores


def snow_problems(calls: Sequence[Call]) -> SnowReport:
    report = SnowReport()
    for call in calls:
        documented = SNOW_OPERATIONS.get(call.operation, frozenset())
        if call.operation not in SNOW_OPERATIONS:
            report.unsupported.append(f"{call.where()}: Snow's EC2 endpoint does not support {call.operation} (using-ec2-endpoint.md)")
            continue
        if documented is None:
            continue
        for param in call.params:
            if param not in documented:
                report.ignored.add((call.operation, param))
    return report
