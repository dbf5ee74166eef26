"""The ``nutanix`` section of the config: role categories and Flow Network Security policies.

Pure: ``parse_settings(topology)`` reads ``topology.settings`` and returns a frozen ``NutanixSettings``, or
raises one ``ConfigError`` naming every bad key (against ``topology.settings_key``) and its fix.
docs/platforms/nutanix.md documents every key.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..endpoints import ETCD, NODE_ROLES
from ..reader import Reader, key_join
from ..topology import Topology

# Flow policy states (microseg v4 SecurityPolicyState). SAVE stores a policy without applying or monitoring
# it: the environment is neither protected nor observed, and the project's policy pack refuses it, so the
# config refuses it too. MONITOR is the harmless way to stage a policy.
STATES = ("MONITOR", "ENFORCE")
DEFAULT_STATE = "MONITOR"
# Policy scopes the provider maps in create *and* update (resource_nutanix_network_security_policies_v2.go).
SCOPES = ("ALL_VLAN", "ALL_VPC", "VPC_LIST")
DEFAULT_SCOPE = "ALL_VLAN"
DEFAULT_CATEGORY_KEY = "EksaFirewallRole"
DEFAULT_NAME_PREFIX = "eksa-"
# Category key and value, as Prism Central's v4 model states them (ntnx-prism-py-client 4.3.1, Category.key and
# Category.value; tests/contract checks these constants against it): 1 to 64 characters matching
# ^[^$\/,!"#%'()*+:;=?\\|\[\]^&][^\/,!"#%'()*+:;=?\\|\[\]^&]{0,63}$ -- none of CATEGORY_FORBIDDEN, and no leading `$`.
# Control characters (a newline) are refused too: EKS-A writes the pair into NutanixMachineConfig YAML.
MAX_CATEGORY_LENGTH = 64
CATEGORY_FORBIDDEN = "/,!\"#%'()*+:;=?\\|[]^&"
# CAPX puts KubernetesClusterName=<cluster> on every VM of a cluster: it cannot tell roles apart, and CAPX owns it.
RESERVED_CATEGORY_KEYS = ("KubernetesClusterName",)
ROLES = NODE_ROLES  # the keys of categories.<cluster>

# The v4 model's name limits (ntnx-microseg-py-client 4.3.2: NetworkSecurityPolicy.name 63, AddressGroup.name and
# ServiceGroup.name 64; tests/contract builds every object with these classes).
MAX_POLICY_NAME = 63
MAX_GROUP_NAME = 64
_NOT_PEERS = frozenset({"self", "nodes", "machines", "control-plane", "etcd", "worker", "management-cluster"})

_KEYS = ("state", "clusterStates", "namePrefix", "categoryKey", "categories", "scope", "vpcReferences", "hitlog", "provider")
_PROVIDER_KEYS = ("endpoint", "port", "insecure", "username")
_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$|^$")
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$|^[0-9A-Fa-f:.]+$")


@dataclass(frozen=True, kw_only=True, slots=True, order=True)
class RoleCategory:
    """The category EKS-A puts on the machines of one role (NutanixMachineConfig.spec.additionalCategories)."""

    cluster: str
    role: str  # control-plane | etcd | worker
    key: str
    value: str

    def additional_category(self) -> dict[str, str]:
        return {"key": self.key, "value": self.value}


@dataclass(frozen=True, kw_only=True, slots=True)
class ProviderSettings:
    """An explicit pulumi-nutanix provider. Its password or API key are secret inputs of the component
    (``prismPassword``, ``prismApiKey``), never settings: see docs/platforms/nutanix.md."""

    endpoint: str
    port: int
    insecure: bool = False
    username: Any = None  # a user name, or a pulumi Output of one (it only passes through to the provider)


@dataclass(frozen=True, kw_only=True, slots=True)
class NutanixSettings:
    name_prefix: str = DEFAULT_NAME_PREFIX
    category_key: str = DEFAULT_CATEGORY_KEY
    categories: tuple[RoleCategory, ...] = ()  # one per (cluster, role) that has machines, sorted
    state: str = DEFAULT_STATE
    cluster_states: Mapping[str, str] = field(default_factory=dict)
    scope: str = DEFAULT_SCOPE
    vpc_references: tuple[Any, ...] = ()  # VPC ext_ids, or pulumi Outputs of them (they only pass through)
    hitlog: bool = False
    provider: ProviderSettings | None = None

    def category(self, cluster: str, role: str) -> RoleCategory | None:
        for c in self.categories:
            if c.cluster == cluster and c.role == role:
                return c
        return None

    def state_of(self, cluster: str) -> str:
        return self.cluster_states.get(cluster, self.state)


def default_category_value(cluster: str, role: str) -> str:
    """``<cluster>-<role>``: EKS-A cluster names are unique in a Prism Central (CAPX's KubernetesClusterName
    category relies on it too), so these values cannot collide between clusters."""
    return f"{cluster}-{role}"


def parse_settings(topology: Topology) -> NutanixSettings:
    r = Reader()
    base = topology.settings_key or "nutanix"
    cfg = r.mapping(topology.settings, base, _KEYS, required=False) if topology.settings else {}

    def k(name: str) -> str:
        return key_join(base, name)

    state = _state(cfg.get("state"), k("state"), r)
    cluster_names = [c.name for c in topology.clusters]
    cluster_states: dict[str, str] = {}
    raw_states = cfg.get("clusterStates")
    if raw_states is not None:
        states = r.mapping(raw_states, k("clusterStates"), cluster_names)
        for name, value in states.items():
            if name in cluster_names:
                cluster_states[name] = _state(value, key_join(k("clusterStates"), name), r)

    prefix = cfg.get("namePrefix", DEFAULT_NAME_PREFIX)
    if not isinstance(prefix, str) or not _PREFIX.match(prefix):
        r.problem(k("namePrefix"), f"{prefix!r} is not a usable name prefix", "use letters, digits, '-', '_' or '.', such as eksa-")
        prefix = DEFAULT_NAME_PREFIX
    else:
        _names_fit(topology, prefix, k("namePrefix"), r)

    category_key = r.string(cfg.get("categoryKey"), k("categoryKey"), required=False, default=DEFAULT_CATEGORY_KEY)
    category_key = _category_text(category_key or DEFAULT_CATEGORY_KEY, k("categoryKey"), "key", r)
    if category_key in RESERVED_CATEGORY_KEYS:
        r.problem(
            k("categoryKey"),
            f"{category_key!r} is the category CAPX puts on every VM of a cluster: it cannot tell the roles apart",
            f"use a key of your own, such as {DEFAULT_CATEGORY_KEY}",
        )
    categories = _categories(topology, cfg.get("categories"), k("categories"), category_key, r)

    scope = r.choice(cfg.get("scope"), k("scope"), SCOPES, default=DEFAULT_SCOPE) or DEFAULT_SCOPE
    vpcs: list[Any] = []
    for i, ref in enumerate(r.seq(cfg.get("vpcReferences"), k("vpcReferences"))):
        value = r.passthrough(ref, key_join(k("vpcReferences"), i), lambda text: True, "")
        if value is not None and value not in vpcs:
            vpcs.append(value)
    if scope == "VPC_LIST" and not vpcs:
        r.problem(k("vpcReferences"), "is required with scope VPC_LIST", "list the ext_ids of the VPCs the policies apply to")
    if scope != "VPC_LIST" and vpcs:
        r.problem(k("vpcReferences"), f"is only used with scope VPC_LIST (scope is {scope})", f"remove it, or set {k('scope')}: VPC_LIST")

    hitlog = r.boolean(cfg.get("hitlog"), k("hitlog"), False)
    provider = _provider(topology, cfg.get("provider"), k("provider"), r)

    r.done()
    return NutanixSettings(
        name_prefix=prefix,
        category_key=category_key,
        categories=categories,
        state=state,
        cluster_states=cluster_states,
        scope=scope,
        vpc_references=tuple(vpcs),
        hitlog=hitlog,
        provider=provider,
    )


def _names_fit(topology: Topology, prefix: str, key: str, r: Reader) -> None:
    """The names the planner builds (components/nutanix/planner.py) must fit the v4 model: ``<prefix><cluster>-<role>``
    (NetworkSecurityPolicy.name, at most 63 characters), ``<prefix><cluster>-<peer>`` (AddressGroup.name, 64) and
    ``<prefix><cluster>-<row>-<protocol>-<ports>`` (ServiceGroup.name, 64). Judged on the longest suffix the cluster's
    catalog rows could give, so that `pulumi up` never fails on a name Prism Central refuses."""
    from ..catalog import load_catalog
    from ..flows import row_applies, row_ports
    from ..ports import format_ports

    for cluster in topology.clusters:
        longest = [(MAX_POLICY_NAME, f"-{role}") for role in cluster.roles]
        for row in load_catalog():
            if row.local_only or not row_applies(row, topology, cluster):
                continue
            ports = format_ports(row_ports(row, topology, cluster)).replace("|", "_")
            longest.append((MAX_GROUP_NAME, f"-{row.id}-{row.protocol}-{ports}"))
            longest += [(MAX_GROUP_NAME, f"-{peer}") for peer in row.sources if peer not in _NOT_PEERS]
        limit, suffix = max(longest, key=lambda ls: len(ls[1]) - ls[0])
        name = f"{prefix}{cluster.name}{suffix}"
        if len(name) > limit:
            r.problem(
                key,
                f"names like {name!r} ({len(name)} characters) would be longer than Prism Central allows ({limit})",
                f"shorten the prefix or the cluster name {cluster.name!r} by {len(name) - limit} characters",
            )


def _state(value: Any, key: str, r: Reader) -> str:
    if isinstance(value, str) and value.strip().upper() == "SAVE":
        r.problem(
            key,
            "SAVE stores the policy without applying or monitoring it: the nodes would be neither protected nor observed",
            "use MONITOR to stage the policy (Flow shows what it would block), then ENFORCE",
        )
        return DEFAULT_STATE
    if isinstance(value, str):
        value = value.strip().upper()
    return r.choice(value, key, STATES, default=DEFAULT_STATE) or DEFAULT_STATE


def _category_text(text: str, key: str, what: str, r: Reader) -> str:
    if not text:
        r.problem(key, f"the category {what} is empty", f"set {key} to a {what} of 1 to {MAX_CATEGORY_LENGTH} characters")
    if len(text) > MAX_CATEGORY_LENGTH:
        r.problem(key, f"the category {what} {text!r} is longer than {MAX_CATEGORY_LENGTH} characters", f"set {key} to a shorter {what}")
    if text.startswith("$"):
        r.problem(key, f"the category {what} {text!r} starts with '$', which Prism Central reserves", "remove the leading '$'")
    bad = sorted({c for c in text if c in CATEGORY_FORBIDDEN})
    if bad:
        r.problem(
            key,
            f"the category {what} {text!r} contains {', '.join(map(repr, bad))}, which Prism Central refuses (none of {CATEGORY_FORBIDDEN})",
            "use letters, digits, '-', '_' or '.' instead",
        )
    if any(unicodedata.category(c).startswith("C") for c in text):
        r.problem(key, f"the category {what} {text!r} contains a control character (a newline, a tab)", f"write {key} on one line")
    return text


def _categories(topology: Topology, raw: Any, key: str, category_key: str, r: Reader) -> tuple[RoleCategory, ...]:
    overrides = r.mapping(raw, key, [c.name for c in topology.clusters], required=False) if raw is not None else {}
    out: list[RoleCategory] = []
    seen: dict[tuple[str, str], str] = {}
    for cluster in topology.clusters:
        roles = cluster.roles
        ckey = key_join(key, cluster.name)
        cluster_cfg = r.mapping(overrides.get(cluster.name), ckey, ROLES, required=False)
        for role in cluster_cfg:
            if role in ROLES and role not in roles:
                why = "its etcd is stacked on the control plane" if role == ETCD else "it has no worker groups"
                r.problem(key_join(ckey, role), f"cluster {cluster.name!r} has no {role} machines ({why})", "remove this entry")
        for role in roles:
            rkey = key_join(ckey, role)
            role_cfg = r.mapping(cluster_cfg.get(role), rkey, ("key", "value"), required=False)
            ck = r.string(role_cfg.get("key"), key_join(rkey, "key"), required=False, default=category_key) or category_key
            cv = r.string(role_cfg.get("value"), key_join(rkey, "value"), required=False)
            value_key = key_join(rkey, "value")  # for a default value too: where to put a shorter one
            cv = cv or default_category_value(cluster.name, role)
            if role_cfg.get("key") is not None:
                _category_text(ck, key_join(rkey, "key"), "key", r)
                if ck in RESERVED_CATEGORY_KEYS:
                    r.problem(key_join(rkey, "key"), f"{ck!r} is the category CAPX puts on every VM of a cluster", "use a key of your own")
            _category_text(cv, value_key, "value", r)
            pair = (ck, cv)
            if pair in seen:
                r.problem(
                    value_key,
                    f"{ck}={cv} is already the category of {seen[pair]}: Flow could not tell these machines apart",
                    "give every cluster role its own category value",
                )
            seen[pair] = f"{cluster.name}/{role}"
            out.append(RoleCategory(cluster=cluster.name, role=role, key=ck, value=cv))
    return tuple(sorted(out))


def _provider(topology: Topology, raw: Any, key: str, r: Reader) -> ProviderSettings | None:
    if raw is None:
        return None
    cfg = r.mapping(raw, key, _PROVIDER_KEYS)
    endpoint = r.string(cfg.get("endpoint"), key_join(key, "endpoint"), required=False)
    if endpoint is None:
        pc = topology.endpoints.prism_central
        endpoint = str(pc.network_address) if pc is not None else None
    elif not _HOST.match(endpoint):
        r.problem(
            key_join(key, "endpoint"),
            f"{endpoint!r} is not a host name or IP address",
            "write the Prism Central host, without https:// or a port",
        )
    if endpoint is None:
        r.problem(key_join(key, "endpoint"), "is required when endpoints.prismCentral is not set", "set it to the Prism Central host")
        return None
    port = r.port(cfg.get("port"), key_join(key, "port"), topology.endpoints.prism_central_port)
    insecure = r.boolean(cfg.get("insecure"), key_join(key, "insecure"), False)
    username = r.passthrough(
        cfg.get("username"),
        key_join(key, "username"),
        lambda text: not any(unicodedata.category(c).startswith("C") for c in text),
        "write the Prism Central user name on one line, with printable characters only",
        required=False,
    )
    return ProviderSettings(endpoint=endpoint, port=port, insecure=insecure, username=username)
