"""The `baremetal` section of the config: parsed and checked before anything is registered.

Every key is documented in docs/platforms/baremetal.md. Problems are reported against the config key
(``topology.settings_key``), with the fix, all at once.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from ..errors import ConfigError
from ..reader import Reader, key_join
from ..topology import Topology

DEFAULT_TABLE = "eksa_firewall"
DEFAULT_APPLY_PATH_DIR = "/etc/eksa-firewall"
DEFAULT_ACTIONS = ("drop", "reject")
KEYS = ("table", "defaultAction", "outputDir", "apply")
APPLY_KEYS = ("enabled", "user", "port", "sudo", "privateKeyConfig", "path")  # privateKeyConfig: refused, see _apply
# nft identifiers: a letter, then letters, digits and underscores. Kept short so set names built
# from it stay readable; the kernel allows up to 256 characters (NFT_NAME_MAXLEN).
_TABLE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
_USER_RE = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
# apply.path goes into the shell scripts run on each machine: an allow-list, not a list of what to refuse.
_PATH_RE = re.compile(r"/[A-Za-z0-9._+@/-]*")


@dataclass(frozen=True, kw_only=True, slots=True)
class ApplySettings:
    """Optional: load the rulesets on the hosts over SSH (pulumi-command remote.Command). The SSH key is the
    secret input ``sshPrivateKey`` (none: the SSH agent), never a setting."""

    user: str = "root"
    port: int = 22
    sudo: bool = False
    path: str = f"{DEFAULT_APPLY_PATH_DIR}/{DEFAULT_TABLE}.nft"  # where the ruleset is kept on the host


@dataclass(frozen=True, kw_only=True, slots=True)
class BareMetalSettings:
    """The ``baremetal`` section, validated."""

    table: str = DEFAULT_TABLE  # rendered as `table inet <table>`
    default_action: str = "drop"  # what happens to an inbound packet no rule accepts: drop or reject
    output_dir: str | None = None  # write <dir>/<host>.nft (relative to the project)
    apply: ApplySettings | None = None  # None: render only

    @property
    def family_table(self) -> str:
        return f"inet {self.table}"


def parse_settings(topology: Topology) -> BareMetalSettings:
    """The `baremetal` section -> BareMetalSettings; raises ConfigError naming every bad key."""
    r = Reader()
    key = topology.settings_key or f"{topology.key_prefix}baremetal"
    cfg = r.mapping(topology.settings, key, KEYS, required=False)

    table = r.string(cfg.get("table"), key_join(key, "table"), required=False, default=DEFAULT_TABLE) or DEFAULT_TABLE
    if not _TABLE_RE.match(table):
        r.problem(
            key_join(key, "table"),
            f"{table!r} is not an nftables table name",
            "start with a letter and use only letters, digits and '_' (at most 63), e.g. eksa_firewall",
        )
    action = r.choice(cfg.get("defaultAction"), key_join(key, "defaultAction"), DEFAULT_ACTIONS, default="drop") or "drop"
    output_dir = r.string(cfg.get("outputDir"), key_join(key, "outputDir"), required=False)
    if output_dir is not None and ("'" in output_dir or any(unicodedata.category(c).startswith("C") for c in output_dir)):
        r.problem(
            key_join(key, "outputDir"),
            "contains a newline or a single quote (or another control character: a NUL, an escape...)",
            "use a plain directory path such as build/nftables",
        )

    apply = _apply(cfg.get("apply"), key_join(key, "apply"), table, r)
    if apply is not None:
        _apply_hosts(topology, key_join(key, "apply"), r)
    if r.problems:
        raise ConfigError(r.problems)
    return BareMetalSettings(table=table, default_action=action, output_dir=output_dir, apply=apply)


def _apply(value: object, key: str, table: str, r: Reader) -> ApplySettings | None:
    cfg = r.mapping(value, key, APPLY_KEYS, required=False)
    if not r.boolean(cfg.get("enabled"), key_join(key, "enabled"), False):
        return None
    user = r.string(cfg.get("user"), key_join(key, "user"), required=False, default="root") or "root"
    if not _USER_RE.match(user):
        r.problem(key_join(key, "user"), f"{user!r} is not a login name", "use the SSH user of the hosts, e.g. root or ec2-user")
    port = r.port(cfg.get("port"), key_join(key, "port"), 22)
    sudo = r.boolean(cfg.get("sudo"), key_join(key, "sudo"), user != "root")
    if cfg.get("privateKeyConfig") is not None:
        r.problem(
            key_join(key, "privateKeyConfig"),
            "is replaced by the secret key sshPrivateKey",
            "run `pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519` and remove privateKeyConfig "
            "(or leave both out to use the SSH agent)",
        )
    path = r.string(cfg.get("path"), key_join(key, "path"), required=False) or f"{DEFAULT_APPLY_PATH_DIR}/{table}.nft"
    if not _PATH_RE.fullmatch(path):
        r.problem(
            key_join(key, "path"),
            f"{path!r} is not a plain absolute path (letters, digits and . _ - + @ /)",
            "use an absolute path such as /etc/eksa-firewall/eksa_firewall.nft",
        )
    return ApplySettings(user=user, port=port, sudo=sudo, path=path)


def _apply_hosts(topology: Topology, key: str, r: Reader) -> None:
    """Applying over SSH needs one address per machine, not an address range."""
    ranges: list[str] = []
    for net in topology.admin_machine:
        if net.prefixlen != net.max_prefixlen:
            ranges.append(f"adminMachine.addresses {net}")
    for cluster in topology.clusters:
        roles = [("controlPlane", cluster.control_plane.addresses), ("workerGroups", cluster.workers)]
        if cluster.external_etcd is not None:
            roles.append(("etcd", cluster.external_etcd.addresses))
        ranges += [f"{cluster.name} {name} {net}" for name, nets in roles for net in nets if net.prefixlen != net.max_prefixlen]
    if ranges:
        r.problem(
            key_join(key, "enabled"),
            f"needs one address per machine, but these are ranges: {', '.join(ranges)}",
            "list the machines' own addresses (or use hardwareCsv with hardwareSelector), or turn apply off and install the rulesets yourself",
        )
