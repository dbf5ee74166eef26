"""The eksa-firewall policies, for any stack that holds EKS Anywhere firewall objects (ours or hand-made).

Kept apart from ``__main__.py`` because constructing a ``PolicyPack`` starts the analyzer server and
blocks: tests import this module and call each policy's ``validate`` directly.

Every policy reads resource inputs under the engine's property names (camelCase for the bridged
providers; our NSX dynamic resources keep the NSX API's snake_case names, and both spellings are read).

What each policy refuses, and on which resource types, is listed in docs/policy-pack.md.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

# Control-plane and node ports that must never be reachable from a whole address family, with the EKS-A
# ports table's names. etcd's ports can be moved (etcd.clientPort / etcd.peerPort in our config): list the
# moved ones in the policy config `extraSensitivePorts`.
SENSITIVE_PORTS: Mapping[int, str] = {
    2379: "etcd client",
    2380: "etcd peer",
    10250: "kubelet",
    10257: "kube-controller-manager",
    10259: "kube-scheduler",
}
SSH_PORT = 22
ANY = "ANY"

# Resource types read by the port policies.
AWS_SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
AWS_DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
AWS_SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
AWS_INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
NUTANIX_POLICY_V2 = "nutanix:index/networkSecurityPolicyV2:NetworkSecurityPolicyV2"
NUTANIX_RULE_V3 = "nutanix:index/networkSecurityRule:NetworkSecurityRule"
NSXT_SECURITY_POLICY = "nsxt:index/policySecurityPolicy:PolicySecurityPolicy"
# Our vSphere backend's NSX SecurityPolicy is a Python dynamic resource: pulumi-python:dynamic/nsx:<Name>.
_DYNAMIC_NSX_POLICY = re.compile(r"^pulumi-python:dynamic(/[A-Za-z0-9_.-]+)?:.*SecurityPolicy$")

_TCP = {"tcp", "6"}
_ALL_PROTOCOLS = {"-1", "all", "any"}


@dataclass(frozen=True, slots=True)
class Opening:
    """One inbound permission as a resource states it: protocol, port range, source, and where it is written."""

    protocol: str  # lower case: "tcp", "udp", "all", ...
    lo: int
    hi: int
    source: str  # a CIDR, or "ANY"
    where: str  # the input path, for the message

    def world(self) -> bool:
        return is_world(self.source)

    def reaches(self, port: int) -> bool:
        return (self.protocol in _TCP or self.protocol in _ALL_PROTOCOLS) and self.lo <= port <= self.hi


def is_world(source: str) -> bool:
    """0.0.0.0/0, ::/0 (however written) or NSX's ANY."""
    if source.strip().upper() == ANY:
        return True
    try:
        return ipaddress.ip_network(source.strip(), strict=False).prefixlen == 0
    except ValueError:
        return False


def _get(d: Mapping[str, Any], *names: str, default: Any = None) -> Any:
    for n in names:
        if n in d and d[n] is not None:
            return d[n]
    return default


def _list(value: Any) -> list[Any]:
    """A list input as a list. Under the policy analyzer, lists arrive as a Sequence proxy, not a list."""
    return list(value) if isinstance(value, Sequence) and not isinstance(value, str | bytes) else []


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _aws_ports(protocol: str, lo: Any, hi: Any) -> tuple[int, int]:
    # "-1" (all traffic) ignores ports; EC2 also reads fromPort=-1/toPort=-1 or 0/0 with "-1" as everything.
    if protocol in _ALL_PROTOCOLS:
        return 0, 65535
    low, high = _int(lo, 0), _int(hi, 65535)
    return (0, 65535) if low < 0 or high < 0 else (low, high)


def _aws_sources(rule: Mapping[str, Any]) -> Iterator[str]:
    yield from map(str, _list(rule.get("cidrBlocks")))
    yield from map(str, _list(rule.get("ipv6CidrBlocks")))
    for key in ("cidrIpv4", "cidrIpv6"):
        if isinstance(rule.get(key), str):
            yield rule[key]


def _aws_openings(rule: Mapping[str, Any], where: str, protocol_key: str) -> Iterator[Opening]:
    protocol = str(rule.get(protocol_key, "")).lower()
    lo, hi = _aws_ports(protocol, rule.get("fromPort"), rule.get("toPort"))
    for source in _aws_sources(rule):
        yield Opening(protocol, lo, hi, source, where)


def _nutanix_subnet(subnet: Mapping[str, Any]) -> str:
    return f"{_get(subnet, 'value', default='')}/{_int(_get(subnet, 'prefixLength', 'prefix_length'), 32)}"


def _nutanix_v2_openings(props: Mapping[str, Any]) -> Iterator[Opening]:
    for i, rule in enumerate(_list(props.get("rules"))):
        for j, spec in enumerate(_list(_get(rule, "specs", default=[]))):
            for k, app in enumerate(_list(_get(spec, "applicationRuleSpecs", "application_rule_specs", default=[]))):
                where = f"rules[{i}].specs[{j}].applicationRuleSpecs[{k}]"
                sources = [_nutanix_subnet(s) for s in _list(_get(app, "srcSubnets", "src_subnets", default=[]))]
                if str(_get(app, "srcAllowSpec", "src_allow_spec", default="")).upper() == "ALL":
                    sources.append(ANY)
                ranges: list[tuple[str, int, int]] = []
                if _get(app, "isAllProtocolAllowed", "is_all_protocol_allowed", default=False):
                    ranges.append(("all", 0, 65535))
                for proto, key, snake in (("tcp", "tcpServices", "tcp_services"), ("udp", "udpServices", "udp_services")):
                    for svc in _list(_get(app, key, snake, default=[])):
                        lo = _int(_get(svc, "startPort", "start_port"), 0)
                        ranges.append((proto, lo, _int(_get(svc, "endPort", "end_port"), lo)))
                for source in sources:
                    for proto, lo, hi in ranges:
                        yield Opening(proto, lo, hi, source, where)


def _nutanix_v3_openings(props: Mapping[str, Any]) -> Iterator[Opening]:
    for i, allow in enumerate(_list(props.get("appRuleInboundAllowLists"))):
        where = f"appRuleInboundAllowLists[{i}]"
        kind = str(_get(allow, "peerSpecificationType", default="")).upper()
        if kind == "ALL":
            source = ANY
        elif _get(allow, "ipSubnet") is not None:
            source = f"{allow['ipSubnet']}/{_int(_get(allow, 'ipSubnetPrefixLength'), 32)}"
        else:
            continue  # categories or address groups: resolved by Prism, not here
        if str(_get(allow, "protocol", default="")).upper() == "ALL":
            yield Opening("all", 0, 65535, source, where)
        for proto, key in (("tcp", "tcpPortRangeLists"), ("udp", "udpPortRangeLists")):
            for r in _list(allow.get(key)):
                lo = _int(_get(r, "startPort"), 0)
                yield Opening(proto, lo, _int(_get(r, "endPort"), lo), source, where)


def nsx_policy_body(props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The SecurityPolicy body of an NSX resource: the props themselves, or a nested ``body``/``spec``."""
    if "rules" in props:
        return props
    for key in ("body", "spec", "policy", "securityPolicy", "security_policy"):
        inner = props.get(key)
        if isinstance(inner, Mapping) and ("rules" in inner or inner.get("resource_type") == "SecurityPolicy"):
            return inner
    return None


def _nsx_any(values: Any) -> bool:
    """NSX: ["ANY"] means any; the nsxt provider also reads an empty list as any."""
    items = _list(values)
    return not items or any(str(v).upper() == ANY for v in items)


def _nsx_rules(props: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    body = nsx_policy_body(props) or {}
    return [r for r in _list(body.get("rules")) if isinstance(r, Mapping)]


def _nsx_openings(props: Mapping[str, Any]) -> Iterator[Opening]:
    """NSX rules that allow ANY source on ANY service into the machines (services by path are not resolved)."""
    rules = _nsx_rules(props)
    final = _final_rule(rules)
    for i, rule in enumerate(rules):
        if rule is final:
            continue  # the catch-all last rule is the final-rule policy's business
        if str(_get(rule, "action", default="ALLOW")).upper() != "ALLOW" or _get(rule, "disabled", default=False):
            continue
        if str(_get(rule, "direction", default="IN_OUT")).upper() == "OUT":
            continue
        if _nsx_any(_get(rule, "source_groups", "sourceGroups")) and _nsx_any(_get(rule, "services")):
            yield Opening("all", 0, 65535, ANY, f"rules[{i}] ({_get(rule, 'id', 'display_name', 'displayName', default='?')})")


def openings(resource_type: str, props: Mapping[str, Any]) -> list[Opening]:
    """Every inbound permission a resource of a known type states (empty for other types)."""
    if resource_type in (AWS_SECURITY_GROUP, AWS_DEFAULT_SECURITY_GROUP):
        return [o for i, r in enumerate(_list(props.get("ingress"))) for o in _aws_openings(r, f"ingress[{i}]", "protocol")]
    if resource_type == AWS_SECURITY_GROUP_RULE:
        if str(props.get("type", "")).lower() != "ingress":
            return []
        return list(_aws_openings(props, "", "protocol"))
    if resource_type == AWS_INGRESS_RULE:
        return list(_aws_openings(props, "", "ipProtocol"))
    if resource_type == NUTANIX_POLICY_V2:
        return list(_nutanix_v2_openings(props))
    if resource_type == NUTANIX_RULE_V3:
        return list(_nutanix_v3_openings(props))
    if is_nsx_policy(resource_type, props):
        return list(_nsx_openings(props))
    return []


def is_nsx_policy(resource_type: str, props: Mapping[str, Any]) -> bool:
    if resource_type == NSXT_SECURITY_POLICY:
        return True
    if _DYNAMIC_NSX_POLICY.match(resource_type):
        return True
    body = nsx_policy_body(props) if resource_type.startswith("pulumi-python:dynamic") else None
    return body is not None and body.get("resource_type") == "SecurityPolicy"


# --- the policies ------------------------------------------------------------------------------------


def _configured_ports(args: ResourceValidationArgs) -> dict[int, str]:
    ports = dict(SENSITIVE_PORTS)
    for p in _list(args.get_config().get("extraSensitivePorts")):
        ports.setdefault(_int(p, -1), "configured sensitive port")
    ports.pop(-1, None)
    return ports


def _where(o: Opening) -> str:
    return f" ({o.where})" if o.where else ""


def _validate_sensitive(args: ResourceValidationArgs, report: ReportViolation) -> None:
    ports = _configured_ports(args)
    for o in openings(args.resource_type, args.props):
        if not o.world():
            continue
        hit = sorted(p for p in ports if o.reaches(p))
        if hit:
            names = ", ".join(f"{p} ({ports[p]})" for p in hit)
            report(
                f"{args.name}: {o.protocol} {o.lo}-{o.hi} is open to {o.source}{_where(o)}, which exposes {names} to the whole Internet. "
                "Allow only the control-plane and etcd machines (eksa-firewall does), never 0.0.0.0/0, ::/0 or ANY.",
                None,
            )


def _validate_ssh(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for o in openings(args.resource_type, args.props):
        if o.world() and o.reaches(SSH_PORT):
            report(
                f"{args.name}: SSH (tcp 22) is open to {o.source}{_where(o)}. "
                "Name the admin networks that may SSH to the nodes (eksa-firewall: clients.ssh).",
                None,
            )


def _final_rule(rules: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The rule NSX evaluates last: highest sequence number, ties broken by position (as NSX orders them)."""
    if not rules:
        return None
    ranked = sorted(enumerate(rules), key=lambda ir: (_int(_get(ir[1], "sequence_number", "sequenceNumber"), 0), ir[0]))
    return ranked[-1][1]


def _validate_nsx_final_rule(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not is_nsx_policy(args.resource_type, args.props):
        return
    body = nsx_policy_body(args.props)
    if body is None:
        report(f"{args.name}: an NSX security policy whose rules cannot be read: it must end with a catch-all DROP rule.", None)
        return
    rules = _nsx_rules(args.props)
    final = _final_rule(rules)
    if final is None:
        report(f"{args.name}: NSX security policy without rules: it must end with a catch-all rule (source ANY, service ANY, DROP).", None)
        return
    name = _get(final, "id", "display_name", "displayName", default="the last rule")
    problems: list[str] = []
    if not _nsx_any(_get(final, "source_groups", "sourceGroups")):
        problems.append("its source is not ANY")
    if not _nsx_any(_get(final, "services")):
        problems.append("its service is not ANY")
    if _get(final, "disabled", default=False):
        problems.append("it is disabled")
    if str(_get(final, "direction", default="IN_OUT")).upper() == "OUT":
        problems.append("it only matches outbound traffic")
    scope = [str(s) for s in _list(_get(body, "scope", default=[])) if str(s).upper() != ANY]
    dest = _list(_get(final, "destination_groups", "destinationGroups"))
    if scope and not _nsx_any(dest) and set(scope) - {str(d) for d in dest}:
        problems.append("its destinations do not cover the policy's scope")
    action = str(_get(final, "action", default="")).upper()
    audit_ok = bool(args.get_config().get("allowAuditMode", True))
    if action == "ALLOW":
        if not (audit_ok and _get(final, "logged", default=False)):
            problems.append(
                "it ALLOWs"
                + ("" if _get(final, "logged", default=False) else " without logging")
                + " (audit mode needs logged=true and allowAuditMode)"
            )
    elif action not in ("DROP", "REJECT"):
        problems.append(f"its action is {action or 'missing'}, not DROP or REJECT")
    if problems:
        report(
            f"{args.name}: the NSX policy's last rule ({name}) is not a final catch-all rule: {'; '.join(problems)}. "
            "End every policy with a logged rule from ANY on ANY service that DROPs (eksa-firewall's 'other-inbound').",
            None,
        )


def _validate_nutanix_state(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != NUTANIX_POLICY_V2:
        return
    state = args.props.get("state")
    allowed = ["ENFORCE"] + (["MONITOR"] if args.get_config().get("allowMonitor", True) else [])
    if state is None or str(state).upper() not in allowed:
        shown = "unset (saved, not applied)" if state is None else repr(state)
        report(
            f"{args.name}: Nutanix network security policy state is {shown}: a SAVEd policy enforces nothing. "
            f"Set state to {' or '.join(allowed)}.",
            None,
        )


def _policy(name: str, description: str, validate: Callable[[ResourceValidationArgs, ReportViolation], None],
            config: PolicyConfigSchema | None = None) -> ResourceValidationPolicy:  # fmt: skip
    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=config,
    )


no_sensitive_ports_from_internet = _policy(
    "eksa-no-sensitive-ports-from-internet",
    "etcd (2379-2380), kubelet (10250), kube-controller-manager (10257) and kube-scheduler (10259) must never be open "
    "to 0.0.0.0/0, ::/0 or ANY.",
    _validate_sensitive,
    PolicyConfigSchema(
        properties={
            "extraSensitivePorts": {
                "type": "array",
                "items": {"type": "integer", "minimum": 1, "maximum": 65535},
                "description": "More ports to refuse from the Internet, e.g. custom etcd client/peer ports.",
                "default": [],
            }
        }
    ),
)

no_ssh_from_internet = _policy(
    "eksa-no-ssh-from-internet",
    "SSH (tcp 22) must never be open to 0.0.0.0/0, ::/0 or ANY.",
    _validate_ssh,
)

nsx_policy_has_final_rule = _policy(
    "eksa-nsx-policy-has-final-rule",
    "Every NSX security policy ends with a catch-all rule (source ANY, service ANY) that drops, or logs in audit mode.",
    _validate_nsx_final_rule,
    PolicyConfigSchema(
        properties={
            "allowAuditMode": {
                "type": "boolean",
                "description": "Accept a final rule that ALLOWs and logs (eksa-firewall nsx.mode: audit).",
                "default": True,
            }
        }
    ),
)

nutanix_policy_enforced = _policy(
    "eksa-nutanix-policy-not-saved",
    "A Nutanix Flow network security policy must be applied (ENFORCE, or MONITOR if allowed), never left in SAVE state.",
    _validate_nutanix_state,
    PolicyConfigSchema(
        properties={
            "allowMonitor": {
                "type": "boolean",
                "description": "Accept MONITOR (Flow logs what it would block) as well as ENFORCE.",
                "default": True,
            }
        }
    ),
)

POLICIES: list[ResourceValidationPolicy] = [
    no_sensitive_ports_from_internet,
    no_ssh_from_internet,
    nsx_policy_has_final_rule,
    nutanix_policy_enforced,
]
