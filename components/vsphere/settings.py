"""The ``vsphere`` section of the config: vCenter role tags and the NSX distributed firewall.

Pure: ``parse_settings(topology)`` reads ``topology.settings`` and returns a frozen ``VSphereSettings``, or
raises one ``ConfigError`` naming every bad key (against ``topology.settings_key``) and its fix.
docs/platforms/vsphere.md documents every key.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..endpoints import CONTROL_PLANE, ETCD, NODE_ROLES, WORKER
from ..reader import Reader, key_join
from ..topology import Topology

Mode = Literal["enforce", "audit"]
Membership = Literal["ipset", "tag", "vmName"]
Auth = Literal["session", "basic"]

# The DFW evaluates categories in this order (NSX Policy API, SecurityPolicy.category).
CATEGORIES = ("Ethernet", "Emergency", "Infrastructure", "Environment", "Application")
MEMBERSHIPS: tuple[Membership, ...] = ("ipset", "tag", "vmName")
ROLE_KEYS = NODE_ROLES  # the keys of nsx.membership as a mapping
MAX_POLICY_SEQUENCE = 999_999  # SecurityPolicy.sequence_number is 0-999,999

_TAG_KEYS = ("enabled", "category", "description")
_NSX_KEYS = (
    "enabled", "host", "port", "username", "domain", "category", "sequenceNumber", "mode", "membership",
    "nsxTagScope", "idPrefix", "appliedTo", "logAllowed", "logLabel", "caBundle", "insecure", "auth",
    "timeoutSeconds", "maxRetries",
)  # fmt: skip
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,40}$")
# The vendors' documented limits on the free text this section sends (checked here, at parse time):
# - NSX Tag.scope: at most 128 characters, Tag.tag at most 256 (NSX Policy API reference, type Tag; the tag limit
#   is also in vmware/vsphere-automation-sdk-go services/nsxt/model/ModelPackageTypes.go, `type Tag struct`).
#   A tag condition's value is "scope|tag" (Condition.value), so the scope must not hold '|'.
# - NSX Rule.tag (our logLabel): "printed in CLI and packet logs ... internally tag will get truncated after 32
#   characters" (same file, `type Rule struct`). Longer labels would be cut silently: refused.
# - NSX object ids (our idPrefix, domain): 1-1024 characters without '/' or '&' (vmware/terraform-provider-nsxt
#   nsxt/policy_common.go getNsxIDSchema, nsxt/policy_utils.go validateNsxID); ours are a stricter subset.
# - vCenter tag category name and description: the vSphere Automation API (cis tagging CategoryModel) documents
#   neither a length nor a character set; like every text here they must not hold control characters
#   (a newline in a log label or a name would split the line that shows it).
MAX_NSX_TAG_SCOPE = 128
MAX_NSX_TAG = 256
MAX_RULE_TAG = 32
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$|^\[?[0-9A-Fa-f:.]+\]?$")


@dataclass(frozen=True, kw_only=True, slots=True)
class TagSettings:
    enabled: bool = True
    category: str = "eksa-firewall-roles"
    description: str = "EKS Anywhere node roles (eksa-firewall): one tag per cluster and role"


@dataclass(frozen=True, kw_only=True, slots=True)
class NsxConnection:
    """How the dynamic provider reaches NSX Manager. Not secret: the password travels separately."""

    host: str
    port: int = 443
    username: str
    auth: Auth = "session"
    ca_bundle: str | None = None  # a path on the machine running `pulumi up`, or PEM text
    insecure: bool = False
    timeout_seconds: float = 30.0
    max_retries: int = 5

    def to_props(self) -> dict[str, Any]:
        """The dynamic resources' ``connection`` input (camelCase, as in the stack file)."""
        props: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "username": self.username,
            "auth": self.auth,
            "insecure": self.insecure,
            "timeoutSeconds": self.timeout_seconds,
            "maxRetries": self.max_retries,
        }
        if self.ca_bundle is not None:
            props["caBundle"] = self.ca_bundle
        return props


@dataclass(frozen=True, kw_only=True, slots=True)
class NsxSettings:
    enabled: bool = True
    connection: NsxConnection | None = None  # None only when disabled
    domain: str = "default"
    category: str = "Application"
    sequence_number: int = 1000
    mode: Mode = "enforce"
    membership: Mapping[str, Membership] | None = None  # role -> how its group selects VMs
    nsx_tag_scope: str = "eksa-role"
    id_prefix: str = "eksa"
    applied_to: Literal["groups", "dfw"] = "groups"
    log_allowed: bool = False
    log_label: str = "eksa"

    def membership_of(self, role: str) -> Membership:
        return (self.membership or {}).get(role, "ipset")


@dataclass(frozen=True, kw_only=True, slots=True)
class VSphereSettings:
    tags: TagSettings
    nsx: NsxSettings


def parse_settings(topology: Topology) -> VSphereSettings:
    """Validate the ``vsphere`` section; raises ConfigError listing every problem."""
    r = Reader()
    base = topology.settings_key or f"{topology.key_prefix}vsphere"
    raw = topology.settings
    r.unknown_keys(raw, key_join(base, ""), ("tags", "nsx"))
    tags = _tags(raw.get("tags"), key_join(base, "tags"), r)
    nsx = _nsx(raw.get("nsx"), key_join(base, "nsx"), r, topology)
    r.done()
    return VSphereSettings(tags=tags, nsx=nsx)


def control_characters(text: str, allowed: str = "") -> list[str]:
    """The control and format characters in ``text`` (Unicode category C: C0, DEL, C1, invisible and direction-changing
    marks such as U+200B or U+202E; and the line and paragraph separators), as escapes; those in ``allowed`` excepted."""
    bad = [c for c in text if c not in allowed and (unicodedata.category(c)[0] == "C" or c in "\u2028\u2029")]
    return sorted({c.encode("unicode_escape").decode("ascii") for c in bad})


def _plain_text(r: Reader, key: str, text: str, *, max_len: int | None = None, why: str = "", allowed: str = "") -> None:
    """One problem per rule broken: no control characters (but those in ``allowed``); at most ``max_len`` characters."""
    bad = control_characters(text, allowed)
    if bad:
        where = "with printable characters only" if allowed else "on one line, with printable characters only"
        r.problem(key, f"holds control characters ({', '.join(bad)})", f"write it {where}")
    if max_len is not None and len(text) > max_len:
        r.problem(key, f"is {len(text)} characters long; {why or 'the limit is'} {max_len}", f"shorten it to at most {max_len} characters")


def _tags(value: Any, key: str, r: Reader) -> TagSettings:
    cfg = r.mapping(value, key, _TAG_KEYS, required=False)
    default = TagSettings()
    category = r.string(cfg.get("category"), key_join(key, "category"), required=False, default=default.category) or default.category
    description = (
        r.string(cfg.get("description"), key_join(key, "description"), required=False, default=default.description) or default.description
    )
    _plain_text(r, key_join(key, "category"), category)
    _plain_text(r, key_join(key, "description"), description)
    return TagSettings(enabled=r.boolean(cfg.get("enabled"), key_join(key, "enabled"), True), category=category, description=description)


def _nsx(value: Any, key: str, r: Reader, topology: Topology) -> NsxSettings:
    cfg = r.mapping(value, key, _NSX_KEYS, required=False)
    if not r.boolean(cfg.get("enabled"), key_join(key, "enabled"), True):
        return NsxSettings(enabled=False)
    if not cfg:
        r.problem(
            key,
            "is required: it says which NSX Manager holds the distributed firewall",
            f"add {key}: {{host: nsx.example.com, username: admin}} (and `pulumi config set --secret nsxPassword`), "
            f"or set {key_join(key, 'enabled')}: false for tags only",
        )
        return NsxSettings(enabled=False)
    host = r.string(cfg.get("host"), key_join(key, "host"))
    if host is not None:
        host = host.removeprefix("https://").rstrip("/")
        if not _HOST.match(host):
            r.problem(
                key_join(key, "host"), f"{host!r} is not a host name or address", "write the NSX Manager's name, e.g. nsx.example.com"
            )
    username = r.string(cfg.get("username"), key_join(key, "username"))
    if username is not None:
        _plain_text(r, key_join(key, "username"), username)
    port = r.port(cfg.get("port"), key_join(key, "port"), 443)
    auth = r.choice(cfg.get("auth"), key_join(key, "auth"), ("session", "basic"), default="session") or "session"
    insecure = r.boolean(cfg.get("insecure"), key_join(key, "insecure"), False)
    ca_bundle = r.string(cfg.get("caBundle"), key_join(key, "caBundle"), required=False)
    if ca_bundle is not None:  # a path, or PEM text (lines)
        _plain_text(r, key_join(key, "caBundle"), ca_bundle, allowed="\n\r" if "-----BEGIN" in ca_bundle else "")
    if insecure and ca_bundle:
        r.problem(
            key_join(key, "insecure"), "is true while caBundle is set", "keep caBundle and remove insecure: certificates are then verified"
        )
    timeout = _number(cfg.get("timeoutSeconds"), key_join(key, "timeoutSeconds"), r, 30, lo=1, hi=600)
    retries = int(_number(cfg.get("maxRetries"), key_join(key, "maxRetries"), r, 5, lo=0, hi=20))

    domain = r.string(cfg.get("domain"), key_join(key, "domain"), required=False, default="default") or "default"
    id_prefix = r.string(cfg.get("idPrefix"), key_join(key, "idPrefix"), required=False, default="eksa") or "eksa"
    for k, v in (("domain", domain), ("idPrefix", id_prefix)):
        if not _ID.match(v):
            r.problem(key_join(key, k), f"{v!r} is not a valid NSX id", "use letters, digits, '-', '_' or '.' (at most 41)")
    if cfg.get("category") == "Ethernet":
        r.problem(
            key_join(key, "category"), "holds layer-2 rules only", "use Application (default), Environment, Infrastructure or Emergency"
        )
        category = "Application"
    else:  # Ethernet is left out of the choices, so that a misspelling is never pointed at it
        choices = tuple(c for c in CATEGORIES if c != "Ethernet")
        category = r.choice(cfg.get("category"), key_join(key, "category"), choices, default="Application") or "Application"
    sequence = int(_number(cfg.get("sequenceNumber"), key_join(key, "sequenceNumber"), r, 1000, lo=0, hi=MAX_POLICY_SEQUENCE))
    mode = r.choice(cfg.get("mode"), key_join(key, "mode"), ("enforce", "audit"), default="enforce") or "enforce"
    applied_to = r.choice(cfg.get("appliedTo"), key_join(key, "appliedTo"), ("groups", "dfw"), default="groups") or "groups"
    membership = _membership(cfg.get("membership"), key_join(key, "membership"), r, topology)
    tag_scope = r.string(cfg.get("nsxTagScope"), key_join(key, "nsxTagScope"), required=False, default="eksa-role") or "eksa-role"
    if "|" in tag_scope:
        r.problem(key_join(key, "nsxTagScope"), "must not contain '|'", "NSX writes tag conditions as scope|tag: pick a scope without '|'")
    _plain_text(r, key_join(key, "nsxTagScope"), tag_scope, max_len=MAX_NSX_TAG_SCOPE, why="an NSX tag scope holds at most")
    log_label = r.string(cfg.get("logLabel"), key_join(key, "logLabel"), required=False, default="eksa") or "eksa"
    _plain_text(
        r, key_join(key, "logLabel"), log_label, max_len=MAX_RULE_TAG, why="NSX keeps the first 32 characters of a rule tag; the limit is"
    )
    return NsxSettings(
        enabled=True,
        connection=NsxConnection(
            host=host or "",
            port=port,
            username=username or "",
            auth=auth,  # type: ignore[arg-type]
            ca_bundle=ca_bundle,
            insecure=insecure,
            timeout_seconds=float(timeout),
            max_retries=retries,
        ),
        domain=domain,
        category=category,
        sequence_number=sequence,
        mode=mode,  # type: ignore[arg-type]
        membership=membership,
        nsx_tag_scope=tag_scope,
        id_prefix=id_prefix,
        applied_to=applied_to,  # type: ignore[arg-type]
        log_allowed=r.boolean(cfg.get("logAllowed"), key_join(key, "logAllowed"), False),
        log_label=log_label,
    )


def _number(value: Any, key: str, r: Reader, default: float, *, lo: float, hi: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        r.problem(key, f"{value!r} is not a number between {lo:g} and {hi:g}", f"set {key} to a number such as {default:g}")
        return default
    return value


def _membership(value: Any, key: str, r: Reader, topology: Topology) -> dict[str, Membership]:
    """``ipset`` (default), ``tag`` or ``vmName``; one word for every role, or a mapping per role."""
    if value is None:
        return {}
    if isinstance(value, str):
        choice = r.choice(value, key, MEMBERSHIPS, default="ipset") or "ipset"
        if choice == "vmName":
            r.problem(
                key,
                "vmName cannot select control-plane VMs: EKS-A names them <cluster>-xxxxx, with no role marker",
                f"write {key} per role, e.g. {{control-plane: tag, etcd: vmName, worker: vmName}}",
            )
            return {}
        chosen: dict[str, Membership] = dict.fromkeys(ROLE_KEYS, choice)  # type: ignore[arg-type]
    elif isinstance(value, Mapping):
        r.unknown_keys(value, key_join(key, ""), ROLE_KEYS)
        chosen = {}
        for role in ROLE_KEYS:
            if role in value:
                chosen[role] = r.choice(value[role], key_join(key, role), MEMBERSHIPS, default="ipset") or "ipset"  # type: ignore[assignment]
        if chosen.get(CONTROL_PLANE) == "vmName":
            r.problem(
                key_join(key, CONTROL_PLANE),
                "vmName cannot select control-plane VMs: EKS-A names them <cluster>-xxxxx, with no role marker",
                "use ipset (default) or tag for the control plane",
            )
    else:
        r.problem(key, f"must be ipset, tag or vmName, or a mapping per role, got {type(value).__name__}", f"set {key}: ipset")
        return {}
    if "vmName" in chosen.values():
        _check_vm_names(topology, key, chosen, r)
    return chosen


def _check_vm_names(topology: Topology, key: str, chosen: Mapping[str, str], r: Reader) -> None:
    """VM-name prefixes must not match another role's or another cluster's VMs (see upstream facts)."""
    names = [c.name for c in topology.clusters]
    for cluster in topology.clusters:
        for other in names:
            if other != cluster.name and other.startswith(f"{cluster.name}-"):
                r.problem(
                    key,
                    f"VM names of cluster {other!r} start with {cluster.name + '-'!r}, so name conditions of {cluster.name!r} would match them",
                    "rename one cluster, or use ipset or tag membership",
                )
        if chosen.get(WORKER) == "vmName" and len(cluster.worker_groups) > 5:
            r.problem(
                key_join(key, WORKER),
                f"cluster {cluster.name!r} has {len(cluster.worker_groups)} worker groups; an NSX group holds at most 5 conditions",
                "use ipset or tag membership for workers",
            )
        if cluster.external_etcd is not None and "vmName" in (chosen.get(WORKER), chosen.get(ETCD)):
            for g in cluster.worker_groups:
                if g.name == "etcd" or g.name.startswith("etcd-"):
                    r.problem(
                        key,
                        f"worker group {g.name!r} of {cluster.name!r} has VM names like the etcd machines ({cluster.name}-etcd-...)",
                        "rename the worker group, or use ipset or tag membership",
                    )
