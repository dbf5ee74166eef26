"""Every free-text and address field of every platform's config, and a base environment per platform to put them in.

A ``Field`` is a place in the config (or in the hardware CSV) where hostile text can go:

- ``value``: the value at ``path`` is replaced;
- ``entry``: one entry of the list at ``path`` is replaced (the others stay valid);
- ``key``: a key is added to the mapping at ``path`` (an unknown top-level key, a tag key, a cluster name as a key);
- ``csv``: one cell of the hardware CSV (``path`` is (line index, column)).

The bases hold every optional part (Jenkins, an API load balancer, external etcd, a managed cluster, each section's
text fields), so that an accepted hostile value is rendered somewhere. The fields of each platform's own section
were read from ``components/<platform>/settings.py``; those of the rest from ``components/topology.py`` and
``components/hardware.py``.
"""

from __future__ import annotations

import copy
import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from components.errors import Problem
from components.reader import key_join

PREFIX = "eksa-firewall:"
PLATFORMS = ("baremetal", "vsphere", "snow", "aws-region", "nutanix")

PEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUSnowExamplePlaceholderCertificate0wCgYIKoZIzj0EAwIw\n-----END CERTIFICATE-----\n"

CSV_COLUMNS = (
    "hostname",
    "bmc_ip",
    "bmc_username",
    "bmc_password",
    "mac",
    "ip_address",
    "netmask",
    "gateway",
    "nameservers",
    "labels",
    "disk",
)
CSV_MACHINES = (
    ("eksa-cp-1", "203.0.113.11", "198.51.100.11", "type=cp"),
    ("eksa-cp-2", "203.0.113.12", "198.51.100.12", "type=cp"),
    ("eksa-worker-1", "203.0.113.21", "198.51.100.21", "type=worker"),
    ("eksa-worker-2", "203.0.113.22", "198.51.100.22", "type=worker|gpu=no"),
    ("eksa-etcd-1", "203.0.113.31", "198.51.100.31", "type=etcd"),
)


def csv_rows() -> list[dict[str, str]]:
    rows = []
    for i, (hostname, bmc, ip, labels) in enumerate(CSV_MACHINES):
        rows.append(
            {
                "hostname": hostname, "bmc_ip": bmc, "bmc_username": "root", "bmc_password": f"FAKE-bmc-pass-{i}",
                "mac": f"00:00:5e:00:53:{i:02x}", "ip_address": ip, "netmask": "255.255.255.0", "gateway": "198.51.100.1",
                "nameservers": "198.51.100.1", "labels": labels, "disk": "/dev/sda",
            }
        )  # fmt: skip
    return rows


def csv_text(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list[str](CSV_COLUMNS), lineterminator="\r\n")  # so that a \r or \n in a field is quoted
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _common(platform: str) -> dict[str, Any]:
    return {
        "platform": platform,
        "eksaVersion": "latest",
        "adminMachine": {"addresses": ["10.20.0.10"]},
        "clients": {"api": ["10.30.0.0/24"], "ssh": ["10.30.1.0/28"], "nodePort": ["10.30.2.0/24"]},
        "managementTools": {"jenkins": {"address": "10.30.3.5", "clients": ["10.30.3.0/24"]}},
        "clusters": [
            {
                "name": "mgmt",
                "controlPlane": {"endpoint": "10.21.0.10", "addresses": ["10.21.0.16/28"]},
                "workerGroups": [{"name": "md-0", "addresses": ["10.21.1.0/25"]}],
            },
            {
                "name": "prod",
                "managedBy": "mgmt",
                "controlPlane": {
                    "endpoint": "10.22.0.10",
                    "addresses": ["10.22.0.16/28"],
                    "loadBalancer": {"address": "10.22.0.200", "port": 443},
                },
                "etcd": {"external": True, "addresses": ["10.22.0.32/28"]},
                "workerGroups": [{"name": "general", "addresses": ["10.22.1.0/24"]}],
            },
        ],
    }


def base_config(platform: str) -> dict[str, Any]:
    """The environment a field of ``platform`` is tried in (bare metal: ``hardwareCsv`` is set by ``Field.apply``)."""
    if platform == "baremetal":
        cfg = _common("baremetal")
        cfg["adminMachine"] = {"addresses": ["198.51.100.5"]}
        cfg["clients"] = {"api": ["203.0.113.64/26"], "ssh": ["203.0.113.70/32"], "nodePort": ["203.0.113.64/26"]}
        cfg["managementTools"] = {"jenkins": {"address": "203.0.113.5", "clients": ["203.0.113.128/28"]}}
        cfg["endpoints"] = {"tinkerbellIp": "198.51.100.100"}
        mgmt, prod = cfg["clusters"]
        mgmt["controlPlane"] = {"endpoint": "198.51.100.101", "hardwareSelector": {"type": "cp"}}
        mgmt["workerGroups"] = [{"name": "md-0", "hardwareSelector": {"type": "worker"}}]
        prod["controlPlane"] = {
            "endpoint": "198.51.100.151",
            "addresses": ["198.51.100.141"],
            "loadBalancer": {"address": "198.51.100.200"},
        }
        prod["etcd"] = {"external": True, "hardwareSelector": {"type": "etcd"}}
        prod["workerGroups"] = [{"name": "general", "addresses": ["198.51.100.161", "198.51.100.162"]}]
        cfg["baremetal"] = {
            "table": "eksa_firewall",
            "defaultAction": "reject",
            "outputDir": "build/hardening",
            "apply": {"enabled": False, "user": "ec2-user", "port": 22, "sudo": True, "path": "/etc/eksa-firewall/eksa_firewall.nft"},
        }
        return cfg
    if platform == "vsphere":
        cfg = _common("vsphere")
        cfg["endpoints"] = {"vcenter": "10.20.0.5"}
        cfg["vsphere"] = {
            "tags": {"enabled": True, "category": "eksa-roles", "description": "EKS Anywhere node roles"},
            "nsx": {
                "host": "nsx.example.com", "port": 443, "username": "svc-eksa@example.com", "domain": "default",
                "category": "Application", "sequenceNumber": 1000, "mode": "enforce",
                "membership": {"control-plane": "tag", "etcd": "vmName", "worker": "tag"}, "nsxTagScope": "eksa-role",
                "idPrefix": "eksa-dc1", "appliedTo": "groups", "logAllowed": True, "logLabel": "eksa", "caBundle": "certs/nsx-ca.pem",
                "auth": "session", "timeoutSeconds": 30, "maxRetries": 5,
            },
        }  # fmt: skip
        return cfg
    if platform in ("snow", "aws-region"):
        cfg = _common("snow")
        cfg["endpoints"] = {"snowDevices": [{"name": "snow-a", "address": "10.20.0.2"}, {"name": "snow-b", "address": "10.20.0.3"}]}
        if platform == "snow":
            cfg["aws"] = {
                "mode": "snow", "namePrefix": "eksa-", "tags": {"team": "platform"}, "placement": {"prod": ["snow-b"]},
                "caBundle": PEM, "credentialsFile": "creds/snow-credentials",
                "groups": {"nodes": True, "adminMachine": True, "jenkins": True},
            }  # fmt: skip
        else:
            cfg["aws"] = {
                "mode": "region", "region": "us-west-2", "vpcId": "vpc-0a1b2c3d4e5f67890", "profile": "eksa-admin",
                "namePrefix": "eksa-", "tags": {"team": "platform"}, "groups": {"nodes": False, "adminMachine": True, "jenkins": True},
            }  # fmt: skip
        return cfg
    if platform == "nutanix":
        cfg = _common("nutanix")
        cfg["endpoints"] = {"prismCentral": "10.0.0.20", "prismCentralPort": 9440}
        cfg["nutanix"] = {
            "state": "MONITOR", "clusterStates": {"mgmt": "ENFORCE"}, "namePrefix": "eksa-", "categoryKey": "EksaFirewallRole",
            "categories": {"prod": {"worker": {"key": "EksaWorkers", "value": "prod-workers"}}}, "scope": "ALL_VLAN", "hitlog": True,
            "provider": {"endpoint": "pc.example.com", "port": 9440, "insecure": False, "username": "eksa-firewall"},
        }  # fmt: skip
        return cfg
    raise KeyError(platform)


Kind = Literal["value", "entry", "key", "csv"]
Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Field:
    platform: str
    kind: Kind
    path: Path_
    setup: tuple[tuple[Path_, Any], ...] = ()  # changes to the base first
    # Other keys a refusal may name instead: those that refer to this field's value (a cluster's name is referred
    # to by managedBy and the sections' per-cluster keys), or the mapping a value is checked as part of.
    blame: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        column = f".{self.path[1]}" if self.kind == "csv" else ""
        return f"{self.platform}:{self.kind}:{self.key.removeprefix(PREFIX)}{column}"

    def named_by(self, problem: Problem) -> bool:
        """Whether ``problem`` names this field: its key is the field's (or inside it), the key of the list or mapping
        the field is part of (a list judged as a whole, a mapping whose keys depend on each other), a key that
        refers to the field's value (``blame``); or its message or fix names the field's key (an overlap is
        reported once, against one of the two keys, naming the other)."""
        key = problem.key if problem.key.startswith(PREFIX) else PREFIX + problem.key  # the helper re-parses without prefix
        mine = self.key
        parent = self.key.rsplit("[", 1)[0] if self.kind == "entry" else self.key.rsplit(".", 1)[0]
        return (
            key.startswith(mine)
            or key == parent
            or any(key.startswith(PREFIX + b) for b in self.blame)
            or mine in problem.message
            or mine in problem.fix
            or (self.kind == "entry" and f"{parent} " in f"{problem.message} ")  # an overlap names the list and the range
        )

    @property
    def key(self) -> str:
        """The config key a refusal must name (or start with), as the program writes keys."""
        if self.kind == "csv":
            return f"{PREFIX}hardwareCsv.line {int(self.path[0]) + 2}"  # the header is line 1
        out = PREFIX
        for step in self.path:
            out = key_join(out, step)
        return out

    def valid(self) -> str:
        """The field's valid value in the base, as text (what hostile text is mixed with)."""
        if self.kind == "csv":
            line, column = self.path
            return csv_rows()[int(line)][str(column)]
        if self.kind == "key":
            return ""
        try:
            value = _get(self._config_base(), self.path)
        except (KeyError, IndexError):
            return ""  # a key the base leaves out (a default applies)
        return value if isinstance(value, str) else ""

    def _config_base(self) -> dict[str, Any]:
        cfg = base_config(self.platform)
        for path, value in self.setup:
            _set(cfg, path, value)
        return cfg

    def apply(self, value: Any, csv_dir: Path) -> dict[str, Any]:
        """The base with ``value`` put in this field (the CSV, for bare metal, written under ``csv_dir``)."""
        cfg = self._config_base()
        rows = csv_rows()
        if self.kind == "csv":
            line, column = self.path
            rows[int(line)][str(column)] = value if isinstance(value, str) else str(value)
        elif self.kind == "key":
            target = _get(cfg, self.path)
            assert isinstance(target, dict)
            target[value if isinstance(value, str) else str(value)] = copy.deepcopy(next(iter(target.values()), "x"))
        else:
            _set(cfg, self.path, value)
        if self.platform == "baremetal" and "hardwareCsv" not in cfg:
            path = csv_dir / f"hardware-{abs(hash((self.id, repr(value))))}.csv"
            path.write_text(csv_text(rows), encoding="utf-8", errors="surrogatepass")
            cfg["hardwareCsv"] = str(path)
        return cfg


def _get(cfg: Mapping[str, Any], path: Path_) -> Any:
    value: Any = cfg
    for step in path:
        value = value[step]
    return value


def _set(cfg: dict[str, Any], path: Path_, value: Any) -> None:
    target: Any = cfg
    for step in path[:-1]:
        if isinstance(step, str) and step not in target:
            target[step] = {}
        target = target[step]
    target[path[-1]] = value


# --- the fields -------------------------------------------------------------------------------------------

# Address lists (an entry) and single addresses, for every platform: where each is in the base.
_ADDRESS_LISTS: tuple[Path_, ...] = (
    ("adminMachine", "addresses"),
    ("clients", "api"),
    ("clients", "ssh"),
    ("clients", "nodePort"),
    ("managementTools", "jenkins", "clients"),
    ("clusters", 0, "controlPlane", "addresses"),
    ("clusters", 0, "workerGroups", 0, "addresses"),
    ("clusters", 1, "controlPlane", "addresses"),
    ("clusters", 1, "etcd", "addresses"),
    ("clusters", 1, "workerGroups", 0, "addresses"),
)
_SINGLE_ADDRESSES: tuple[Path_, ...] = (
    ("managementTools", "jenkins", "address"),
    ("clusters", 0, "controlPlane", "endpoint"),
    ("clusters", 1, "controlPlane", "endpoint"),
    ("clusters", 1, "controlPlane", "loadBalancer", "address"),
)
# Names and other free text of the common part.
_TEXT: tuple[Path_, ...] = (
    ("platform",),
    ("eksaVersion",),
    ("clusters", 0, "name"),
    ("clusters", 1, "name"),
    ("clusters", 1, "managedBy"),
    ("clusters", 0, "workerGroups", 0, "name"),
    ("clusters", 1, "workerGroups", 0, "name"),
    ("allowSshFromAnywhere",),
    ("allowOverlappingRoles",),
    ("cilium",),
    ("clusters", 1, "controlPlane", "apiServerPort"),
    ("clusters", 1, "controlPlane", "loadBalancer", "port"),
    ("clusters", 1, "etcd", "external"),
    ("clusters", 1, "etcd", "clientPort"),
    ("managementTools", "jenkins", "enabled"),
)
_KEYS: tuple[Path_, ...] = ((), ("clusters", 0), ("clusters", 0, "controlPlane"), ("clients",), ("endpoints",))

_NSX_KEYS = (
    "host", "port", "username", "domain", "category", "sequenceNumber", "mode", "membership", "nsxTagScope", "idPrefix",
    "appliedTo", "logAllowed", "logLabel", "caBundle", "auth", "timeoutSeconds", "maxRetries", "insecure", "enabled",
)  # fmt: skip
# Each platform's own endpoints and section (components/<platform>/settings.py).
_PLATFORM_FIELDS: dict[str, tuple[tuple[Kind, Path_], ...]] = {
    "baremetal": (
        ("value", ("endpoints", "tinkerbellIp")),
        ("value", ("hardwareCsv",)),
        ("value", ("clusters", 0, "controlPlane", "hardwareSelector", "type")),
        ("key", ("clusters", 0, "workerGroups", 0, "hardwareSelector")),
        ("value", ("baremetal", "table")),
        ("value", ("baremetal", "defaultAction")),
        ("value", ("baremetal", "outputDir")),
        ("value", ("baremetal", "apply", "enabled")),
        ("value", ("baremetal", "apply", "user")),
        ("value", ("baremetal", "apply", "port")),
        ("value", ("baremetal", "apply", "sudo")),
        ("value", ("baremetal", "apply", "path")),
        ("key", ("baremetal",)),
        ("csv", (0, "hostname")),
        ("csv", (0, "ip_address")),
        ("csv", (4, "ip_address")),
        ("csv", (0, "bmc_ip")),
        ("csv", (2, "bmc_ip")),
        ("csv", (0, "labels")),
        ("csv", (3, "labels")),
        ("csv", (1, "bmc_password")),
    ),
    "vsphere": (
        ("value", ("endpoints", "vcenter")),
        *(("value", ("vsphere", "tags", k)) for k in ("enabled", "category", "description")),
        *(("value", ("vsphere", "nsx", k)) for k in _NSX_KEYS),
        ("value", ("vsphere", "nsx", "membership", "worker")),
        ("key", ("vsphere", "nsx", "membership")),
        ("key", ("vsphere", "nsx")),
        ("key", ("vsphere",)),
    ),
    "snow": (
        ("value", ("endpoints", "snowDevices", 0, "name")),
        ("value", ("endpoints", "snowDevices", 1, "address")),
        *(("value", ("aws", k)) for k in ("mode", "namePrefix", "caBundle", "credentialsFile", "insecure")),
        ("value", ("aws", "tags", "team")),
        ("key", ("aws", "tags")),
        ("entry", ("aws", "placement", "prod")),
        ("key", ("aws", "placement")),
        ("value", ("aws", "groups", "adminMachine")),
        ("key", ("aws",)),
    ),
    "aws-region": (
        *(("value", ("aws", k)) for k in ("mode", "region", "vpcId", "profile", "namePrefix")),
        ("value", ("aws", "tags", "team")),
        ("key", ("aws", "tags")),
        ("value", ("aws", "groups", "nodes")),
    ),
    "nutanix": (
        ("value", ("endpoints", "prismCentral")),
        ("value", ("endpoints", "prismCentralPort")),
        *(("value", ("nutanix", k)) for k in ("state", "namePrefix", "categoryKey", "scope", "hitlog")),
        ("value", ("nutanix", "clusterStates", "mgmt")),
        ("key", ("nutanix", "clusterStates")),
        ("value", ("nutanix", "categories", "prod", "worker", "key")),
        ("value", ("nutanix", "categories", "prod", "worker", "value")),
        ("key", ("nutanix", "categories")),
        ("key", ("nutanix", "categories", "prod")),
        *(("value", ("nutanix", "provider", k)) for k in ("endpoint", "port", "insecure", "username")),
        ("key", ("nutanix",)),
    ),
}
# The common fields run on one platform each (they are parsed by the same code everywhere), round-robin, so that
# every platform renders some of them.
_COMMON_PLATFORMS = ("baremetal", "vsphere", "snow", "nutanix")


def _csv_list_ok(platform: str, path: Path_) -> bool:
    """Bare metal's base selects some roles by hardwareSelector: those have no address list to fill."""
    if platform != "baremetal":
        return True
    return path not in (
        ("clusters", 0, "controlPlane", "addresses"),
        ("clusters", 0, "workerGroups", 0, "addresses"),
        ("clusters", 1, "etcd", "addresses"),
    )


# Keys that name a cluster, or hold one field of a mapping checked as a whole.
_CLUSTER_REFERENCES = ("clusters[1].managedBy", "aws.placement", "nutanix.clusterStates", "nutanix.categories", "vsphere.nsx.membership")
_BLAME: dict[Path_, tuple[str, ...]] = {
    ("clusters", 0, "name"): _CLUSTER_REFERENCES,
    ("clusters", 1, "name"): _CLUSTER_REFERENCES,
    ("clusters", 0, "controlPlane", "hardwareSelector", "type"): ("clusters[0].controlPlane",),
    ("clusters", 0, "workerGroups", 0, "hardwareSelector"): ("clusters[0].workerGroups[0]",),
    ("endpoints", "snowDevices", 0, "name"): ("aws.placement",),
}
_APPLY = ((("baremetal", "apply", "enabled"), True),)


def _field(platform: str, kind: Kind, path: Path_) -> Field:
    setup = _APPLY if path[:2] == ("baremetal", "apply") and path[-1] != "enabled" else ()
    return Field(platform, kind, (*path, 0) if kind == "entry" else path, setup=setup, blame=_BLAME.get(path, ()))


def _specs(kind: Kind, paths: tuple[Path_, ...]) -> list[tuple[Kind, Path_]]:
    return [(kind, p) for p in paths]


def fields() -> list[Field]:
    out: list[Field] = []
    common = [*_specs("entry", _ADDRESS_LISTS), *_specs("value", _SINGLE_ADDRESSES), *_specs("value", _TEXT), *_specs("key", _KEYS)]
    for i, (kind, path) in enumerate(common):
        platform = _COMMON_PLATFORMS[i % len(_COMMON_PLATFORMS)]
        if not _csv_list_ok(platform, path):
            platform = "vsphere"
        out.append(_field(platform, kind, path))
    for platform, specific in _PLATFORM_FIELDS.items():
        out += [_field(platform, kind, path) for kind, path in specific]
    return out
