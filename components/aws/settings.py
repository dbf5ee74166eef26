"""The `aws` config section, and which security groups exist and which flows they are responsible for.

Pure: no Pulumi, no provider SDK. ``parse_settings`` validates the section (every problem names its key and
the fix); ``group_members`` says which machines a group's members are (its role's addresses, as the topology
lists them), which the planner and the interpreter both need. Which groups own which flows is the
planner's business (``scope.py``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..endpoints import ADMIN_MACHINE, JENKINS
from ..reader import Network, Reader, key_join
from ..topology import Topology

MODES = ("snow", "region")
SNOW_REGION = "snow"
# EC2 HTTPS endpoint of a Snowball Edge device (the EKS-A page's 8242 is an erratum; see docs/platforms/snow.md).
SNOW_EC2_HTTPS_PORT = 8243

# Tags every group carries: how a group is found again (CAPAS filters, the interpreter) whatever its id.
TAG_CLUSTER = "eksa-firewall/cluster"
TAG_ROLE = "eksa-firewall/role"
RESERVED_TAG_PREFIXES = ("aws:", "eksa-firewall/")
MAX_TAGS = 50  # AWS: 50 tags per resource
# EC2's model (botocore ec2 service-2.json, Tag.Key / Tag.Value; tests/contract checks these against it): "Tag
# keys are case-sensitive and accept a maximum of 127 Unicode characters. May not begin with aws:", "Tag values
# ... accept a maximum of 256 Unicode characters". Control characters (a newline, a tab) are refused as well:
# EC2 names no character set for tags, but a tag is matched by CAPAS filters and printed in plans and tables.
MAX_TAG_KEY, MAX_TAG_VALUE = 127, 256
# CreateSecurityGroup.GroupName (EC2 model): "Up to 255 characters in length. Can't start with sg-. Valid
# characters: a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*". A group's name is the prefix, then cluster
# and role (DNS labels, at most 63 + 1 + 13 characters), so the prefix gets at most 100 of the 255.
GROUP_NAME_CHARACTERS = r"A-Za-z0-9 ._\-:/()#,@\[\]+=&;{}!$*"
MAX_NAME_PREFIX = 100
DEFAULT_NAME_PREFIX = "eksa-"

# The keys of the `aws` section, in the order docs/platforms/snow.md explains them.
SECTION_KEYS = (
    "mode", "groups", "namePrefix", "tags",
    "placement", "caBundle", "insecure", "credentialsFile",
    "region", "vpcId", "profile",
)  # fmt: skip
SNOW_ONLY = ("placement", "caBundle", "insecure", "credentialsFile")
REGION_ONLY = ("region", "vpcId", "profile")
GROUP_KEYS = ("nodes", "adminMachine", "jenkins")
PLACEMENT_EXTRA_KEYS = {"adminMachine": ADMIN_MACHINE, "jenkins": JENKINS}  # besides cluster names

_VPC_ID = re.compile(r"^vpc-[0-9a-f]{8,17}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_PEM_CERT = "-----BEGIN CERTIFICATE-----"

ReadFile = Callable[[str], str]


@dataclass(frozen=True, order=True, slots=True)
class GroupKey:
    """One security group's identity: a role of a cluster, or a machine outside the clusters."""

    cluster: str  # "" for the admin machine and Jenkins, which belong to no cluster
    role: str  # control-plane | etcd | worker | admin-machine | jenkins

    @property
    def parts(self) -> tuple[str, ...]:
        return (self.cluster, self.role) if self.cluster else (self.role,)

    @property
    def label(self) -> str:
        return "/".join(self.parts)

    @property
    def placement_key(self) -> str:
        """The `aws.placement` key that chooses this group's devices."""
        if self.cluster:
            return self.cluster
        return next(k for k, v in PLACEMENT_EXTRA_KEYS.items() if v == self.role)


@dataclass(frozen=True, kw_only=True, slots=True)
class GroupSelection:
    nodes: bool
    admin_machine: bool
    jenkins: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class Device:
    name: str
    address: Network

    @property
    def ec2_endpoint(self) -> str:
        host = self.address.network_address
        return f"https://[{host}]:{SNOW_EC2_HTTPS_PORT}" if host.version == 6 else f"https://{host}:{SNOW_EC2_HTTPS_PORT}"

    @property
    def profile(self) -> str:
        """EKS-A's Snow credentials file names each device's profile by the device's IP address."""
        return str(self.address.network_address)


@dataclass(frozen=True, kw_only=True, slots=True)
class CaBundle:
    """The device certificates: a file path (what pulumi-aws's custom_ca_bundle takes) or PEM text."""

    path: str | None = None
    pem: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class AwsSettings:
    mode: str
    groups: GroupSelection
    name_prefix: str = DEFAULT_NAME_PREFIX
    tags: Mapping[str, str] = field(default_factory=dict)
    # snow
    devices: tuple[Device, ...] = ()
    placement: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # placement key -> device names
    ca_bundle: CaBundle | None = None
    insecure: bool = False
    credentials_file: str | None = None
    # region
    region: str | None = None  # None: the aws provider the component is given (opts), or the default one
    vpc_id: Any = None  # a VPC id, or a pulumi Output of one (it only passes through to the groups)
    profile: str | None = None
    key: str = "aws"  # the config key of the section, for messages

    def devices_for(self, group: GroupKey) -> tuple[Device, ...]:
        """Snow: the devices that get a copy of ``group`` (default: every device)."""
        names = self.placement.get(group.placement_key)
        return self.devices if names is None else tuple(d for d in self.devices if d.name in names)


# --- parsing ---------------------------------------------------------------------------------------


def parse_settings(topology: Topology, *, read_file: ReadFile | None = None) -> AwsSettings:
    """Validate ``topology.settings`` (the `aws` section); raise one ConfigError naming every problem.

    ``read_file`` checks that a caBundle path holds a certificate; without it, paths are not opened
    (the interpreter needs only the group selection).
    """
    r = Reader()
    base = topology.settings_key or f"{topology.key_prefix}aws"
    cfg = topology.settings

    def key(name: str) -> str:
        return key_join(base, name)

    r.unknown_keys(cfg, key_join(base, ""), SECTION_KEYS)
    mode = r.choice(cfg.get("mode"), key("mode"), MODES, default="snow") or "snow"
    for other in REGION_ONLY if mode == "snow" else SNOW_ONLY:
        if cfg.get(other) is not None:
            r.problem(
                key(other), f"is not used in {mode} mode", f"remove it, or set {key('mode')}: {'region' if mode == 'snow' else 'snow'}"
            )

    groups = _groups(cfg.get("groups"), key("groups"), mode, topology, r)
    name_prefix = _name_prefix(cfg.get("namePrefix"), key("namePrefix"), r)
    tags = _tags(cfg.get("tags"), key("tags"), r)
    settings = AwsSettings(mode=mode, groups=groups, name_prefix=name_prefix, tags=tags, key=base)

    if mode == "snow":
        devices = tuple(Device(name=d.name, address=d.address) for d in topology.endpoints.snow_devices)
        placement = _placement(cfg.get("placement"), key("placement"), topology, devices, r)
        insecure = r.boolean(cfg.get("insecure"), key("insecure"), False)
        ca = _ca_bundle(cfg.get("caBundle"), key("caBundle"), r, read_file)
        if ca is not None and insecure:
            r.problem(key("insecure"), "is set together with caBundle", f"keep {key('caBundle')} and remove {key('insecure')}")
        credentials_file = _one_line(
            r.string(cfg.get("credentialsFile"), key("credentialsFile"), required=False), key("credentialsFile"), r
        )
        settings = replace(
            settings, devices=devices, placement=placement, ca_bundle=ca, insecure=insecure, credentials_file=credentials_file
        )
    else:
        region = r.string(cfg.get("region"), key("region"), required=False)
        if region is not None and not _REGION.match(region):
            r.problem(key("region"), f"{region!r} is not an AWS region name", "write it like us-west-2")
        # The VPC id only passes through to the groups: a pulumi Output (``vpc.id``) is taken as it is.
        vpc_id = r.passthrough(
            cfg.get("vpcId"),
            key("vpcId"),
            lambda text: bool(_VPC_ID.match(text)),
            "write the VPC's id, like vpc-0a1b2c3d4e5f67890, or pass the id output of an aws.ec2.Vpc",
        )
        profile = _one_line(r.string(cfg.get("profile"), key("profile"), required=False), key("profile"), r)
        settings = replace(settings, region=region, vpc_id=vpc_id, profile=profile)
    r.done()
    return settings


def _groups(value: Any, key: str, mode: str, topology: Topology, r: Reader) -> GroupSelection:
    cfg = r.mapping(value, key, GROUP_KEYS, required=False)
    # Region mode is mostly for the machines beside the devices (admin machine, Jenkins); on a device the
    # admin machine is often a laptop, so its group is opt-in there.
    nodes = r.boolean(cfg.get("nodes"), key_join(key, "nodes"), True)
    admin = r.boolean(cfg.get("adminMachine"), key_join(key, "adminMachine"), mode == "region")
    jenkins_default = mode == "region" and topology.jenkins is not None
    jenkins = r.boolean(cfg.get("jenkins"), key_join(key, "jenkins"), jenkins_default)
    if jenkins and topology.jenkins is None:
        prefix = topology.key_prefix
        r.problem(
            key_join(key, "jenkins"),
            "asks for a Jenkins group, but Jenkins is not enabled",
            f"set {prefix}managementTools.jenkins (address, clients), or remove {key_join(key, 'jenkins')}",
        )
    if not (nodes or admin or jenkins):
        r.problem(key, "selects no group: nothing would be created", f"set {key_join(key, 'nodes')}: true (the default)")
    return GroupSelection(nodes=nodes, admin_machine=admin, jenkins=jenkins and topology.jenkins is not None)


def _name_prefix(value: Any, key: str, r: Reader) -> str:
    prefix = r.string(value, key, required=False, default=DEFAULT_NAME_PREFIX) or DEFAULT_NAME_PREFIX
    if prefix.lower().startswith("sg-") or not re.fullmatch(f"[{GROUP_NAME_CHARACTERS}]{{1,{MAX_NAME_PREFIX}}}", prefix):
        r.problem(
            key,
            f"{prefix!r} cannot start a security-group name (EC2: at most 255 characters of a-z, A-Z, 0-9, spaces and "
            "._-:/()#,@[]+=&;{}!$*, not starting with sg-)",
            f"use letters, digits and '-' (at most {MAX_NAME_PREFIX}, not starting with sg-), like eksa-",
        )
    return prefix


def _control_characters(text: str, allowed: str = "") -> bool:
    return any(unicodedata.category(c).startswith("C") and c not in allowed for c in text)


def _one_line(text: str | None, key: str, r: Reader) -> str | None:
    """``text`` when it holds no control character (a path or a profile name reaches the provider and its files)."""
    if text is not None and _control_characters(text):
        r.problem(
            key, f"{text!r} holds a control character (a line break, a NUL...)", "write it on one line, with printable characters only"
        )
        return None
    return text


def _tags(value: Any, key: str, r: Reader) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        r.problem(key, f"must be a mapping, got {type(value).__name__}", "write tags as `key: value` lines")
        return {}
    tags: dict[str, str] = {}
    for k, v in value.items():
        tkey = key_join(key, str(k))
        if not isinstance(k, str) or not 0 < len(k) <= MAX_TAG_KEY or _control_characters(k):
            r.problem(
                tkey,
                f"is not a valid tag key (EC2: 1 to {MAX_TAG_KEY} characters; eksa-firewall: no control characters such as a newline)",
                f"use a key of 1 to {MAX_TAG_KEY} printable characters",
            )
        elif k.lower().startswith(RESERVED_TAG_PREFIXES) or k == "Name":
            r.problem(tkey, "is reserved", "eksa-firewall sets Name and eksa-firewall/* itself, and aws:* belongs to AWS; pick another key")
        elif not isinstance(v, str | int | float | bool) or len(str(v)) > MAX_TAG_VALUE or _control_characters(str(v)):
            r.problem(
                tkey,
                f"must be a text of at most {MAX_TAG_VALUE} characters (EC2), without control characters such as a newline",
                f"set {tkey} to a short text on one line",
            )
        else:
            tags[k] = str(v).lower() if isinstance(v, bool) else str(v)
    if len(tags) > MAX_TAGS - 3:
        r.problem(key, f"has {len(tags)} tags; AWS allows {MAX_TAGS} and eksa-firewall uses 3", f"keep at most {MAX_TAGS - 3} tags")
    return tags


def _placement(value: Any, key: str, topology: Topology, devices: tuple[Device, ...], r: Reader) -> dict[str, tuple[str, ...]]:
    allowed = (*(c.name for c in topology.clusters), *PLACEMENT_EXTRA_KEYS)
    cfg = r.mapping(value, key, allowed, required=False)
    names = [d.name for d in devices]
    placement: dict[str, tuple[str, ...]] = {}
    for owner, raw in cfg.items():
        if owner not in allowed:
            continue  # reported by r.mapping
        okey = key_join(key, owner)
        items = r.seq(raw, okey, required=True, non_empty=True)
        chosen: list[str] = []
        for i, item in enumerate(items):
            if item not in names:
                r.problem(
                    key_join(okey, i),
                    f"{item!r} is not a device of {topology.key_prefix}endpoints.snowDevices",
                    f"use one of {', '.join(names) or '(no device listed)'}",
                )
            elif item in chosen:
                r.problem(key_join(okey, i), f"{item!r} is listed twice", "remove the duplicate")
            else:
                chosen.append(item)
        if chosen:
            placement[owner] = tuple(sorted(chosen))
    return placement


def _ca_bundle(value: Any, key: str, r: Reader, read_file: ReadFile | None) -> CaBundle | None:
    text = r.string(value, key, required=False)
    if text is None:
        return None
    if _PEM_CERT in text:
        if _control_characters(text, allowed="\n\r\t"):
            r.problem(
                key, "holds a control character besides line breaks", "paste the certificates as `snowballEdge get-certificate` prints them"
            )
            return None
        return CaBundle(pem=text.strip() + "\n")
    if "\n" in text or text.startswith("-----"):
        r.problem(key, "looks like PEM text but holds no certificate", f"paste the whole certificate, starting with {_PEM_CERT}")
        return None
    if _one_line(text, key, r) is None:
        return None
    if read_file is not None:
        try:
            content = read_file(text)
        except OSError as exc:
            r.problem(
                key, f"cannot read {text!r} ({exc.strerror or exc})", "give the path of the PEM file, relative to the project directory"
            )
            return None
        if _PEM_CERT not in content:
            r.problem(
                key, f"{text!r} holds no PEM certificate", "save the output of `snowballEdge get-certificate` for each device in this file"
            )
            return None
    return CaBundle(path=text)


# --- membership: which machines a group's members are -----------------------------------------------


def group_members(topology: Topology, key: GroupKey) -> tuple[Network, ...]:
    """A group's members are its role's addresses, exactly as the topology lists them."""
    if key.role == ADMIN_MACHINE:
        return topology.admin_machine
    if key.role == JENKINS:
        return (topology.jenkins.address,) if topology.jenkins else ()
    try:
        cluster = topology.cluster(key.cluster)
    except KeyError:
        return ()
    role = key.role
    if role not in cluster.roles:  # stacked etcd, or no worker groups: no machines of its own, no group
        return ()
    return cluster.addresses_of(role)
