"""Thin: the bare-metal specs -> Pulumi resources. The only module of the backend that imports Pulumi.

Registered, per host role (admin machine, each cluster's control plane, external etcd, workers):
- ``eksa-firewall:index:NftablesRuleset`` (a component): inputs ``host``, ``table``, ``machines``,
  ``ruleset`` (the nftables text). ``verify`` reads the ruleset from here;
- with ``baremetal.outputDir``: a ``command:local:Command`` writing ``<outputDir>/<host>.nft`` (stdin);
- with ``baremetal.apply.enabled``: one ``command:remote:Command`` per machine that loads the ruleset over
  SSH (create/update: check with ``nft -c``, keep it at ``apply.path``, ``nft -f``; delete: remove the table).
The ACL for physical firewalls is not part of the program (it would put thousands of lines into state and
into every preview): ``eksa-firewall acl --stack NAME`` exports it from the same config (components/baremetal/acl.py).
"""

from __future__ import annotations

import shlex
from typing import NotRequired, TypedDict

import pulumi
from pulumi_command import local, remote

from ..component import Environment, FirewallComponent, child_name, token
from ..schema import CommonArgs
from . import PLATFORM
from .hosts import HostRole
from .nftables import address, delete_script, render
from .planner import plan_rulesets
from .settings import ApplySettings, BareMetalSettings, parse_settings


class BareMetalApplyArgs(TypedDict):
    enabled: NotRequired[bool]
    user: NotRequired[str]
    port: NotRequired[int]
    sudo: NotRequired[bool]
    path: NotRequired[str]


class BareMetalArgs(TypedDict):
    table: NotRequired[str]
    defaultAction: NotRequired[str]
    outputDir: NotRequired[str]
    apply: NotRequired[BareMetalApplyArgs]


class BareMetalFirewallArgs(CommonArgs):
    baremetal: NotRequired[BareMetalArgs]
    sshPrivateKey: NotRequired[pulumi.Input[str]]  # noqa: N815 - config key; with baremetal.apply (none: the SSH agent), kept secret


def _sudo(apply: ApplySettings) -> str:
    return "sudo -n " if apply.sudo else ""


def apply_script(apply: ApplySettings) -> str:
    """Run on the host with the ruleset on stdin. A ruleset that fails `nft -c` never replaces a working one."""
    sudo, path = _sudo(apply), shlex.quote(apply.path)
    directory = shlex.quote(apply.path.rsplit("/", 1)[0] or "/")
    return "\n".join(
        [
            "set -eu",
            'tmp="$(mktemp)"',
            "trap 'rm -f \"$tmp\"' EXIT",
            'cat > "$tmp"',
            f'{sudo}nft -c -f "$tmp"',
            f"{sudo}mkdir -p {directory}",
            f'{sudo}install -m 0600 "$tmp" {path}',
            f"{sudo}nft -f {path}",
        ]
    )


def remove_script(apply: ApplySettings, table: str) -> str:
    sudo = _sudo(apply)
    return "\n".join(
        ["set -eu", f"printf %s {shlex.quote(delete_script(table))} | {sudo}nft -f -", f"{sudo}rm -f {shlex.quote(apply.path)}"]
    )


def _write_file(path: str) -> tuple[str, str]:
    """(create, delete) commands for a local file written from stdin, relative to the project directory."""
    quoted = shlex.quote(path)
    directory = shlex.quote(path.rsplit("/", 1)[0]) if "/" in path else "."
    return f"mkdir -p {directory} && cat > {quoted}", f"rm -f {quoted}"


class NftablesRuleset(pulumi.ComponentResource):
    """One host role's ruleset (``text``, rendered from its spec); its children put it on disk or on the machines."""

    def __init__(
        self,
        name: str,
        host: HostRole,
        text: str,
        settings: BareMetalSettings,
        private_key: pulumi.Output[str] | None,
        opts: pulumi.ResourceOptions,
    ) -> None:
        self.text = text
        self.file: str | None = None
        props = {
            "host": host.key,
            "table": settings.family_table,
            "machines": [address(n) for n in host.machines],
            "vips": [address(n) for n in host.vips],
            "ruleset": self.text,
        }
        super().__init__(token("NftablesRuleset"), name, props, opts)
        child = pulumi.ResourceOptions(parent=self)
        if settings.output_dir is not None:
            self.file = f"{settings.output_dir.rstrip('/')}/{host.file_name}"
            create, delete = _write_file(self.file)
            local.Command(child_name(name, "file"), create=create, update=create, delete=delete, stdin=self.text, opts=child)
        if settings.apply is not None:
            apply = settings.apply
            for machine in host.machines:
                ip = address(machine)
                remote.Command(
                    child_name(name, ip),
                    connection=remote.ConnectionArgs(host=ip, user=apply.user, port=float(apply.port), private_key=private_key),
                    create=apply_script(apply),
                    update=apply_script(apply),
                    delete=remove_script(apply, settings.table),
                    stdin=self.text,
                    # Replacing must not end with the old resource's delete removing the new table.
                    opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
                )
        # The text is this component's input already; registering it again as an output would store it twice.
        self.register_outputs({})


class BareMetalFirewall(FirewallComponent):
    """nftables rulesets for the admin machine and the nodes of EKS Anywhere bare-metal clusters."""

    PLATFORM = PLATFORM.name

    nftables_table: pulumi.Output[str]
    """The table every ruleset defines (``inet eksa_firewall``)."""
    nftables_default_policy: pulumi.Output[str]
    """What the input chain does with what no rule accepts."""
    nftables_rulesets: pulumi.Output[dict[str, str]]
    """Per host role (admin-machine, <cluster>-control-plane, ...), the nftables ruleset text."""
    nftables_files: pulumi.Output[dict[str, str]]
    """With baremetal.outputDir: per host role, the file the ruleset is written to (else empty)."""

    def __init__(self, name: str, args: BareMetalFirewallArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args, opts)

    def _build(self, name: str, environment: Environment, opts: pulumi.ResourceOptions | None) -> None:
        topology = environment.topology
        settings = parse_settings(topology)
        key = environment.secrets.get("sshPrivateKey")
        private_key = pulumi.Output.secret(key) if key is not None and settings.apply is not None else None
        # The nft text of each host role: what the children register (the specs are not needed after it).
        rulesets = [(s.host, render(s)) for s in plan_rulesets(topology, environment.flows, settings)]
        pulumi.ComponentResource.__init__(self, token("BareMetalFirewall"), name, None, opts)
        self.settings = settings
        self.rulesets: dict[str, NftablesRuleset] = {}
        for host, text in rulesets:
            self.rulesets[host.key] = NftablesRuleset(
                child_name(name, host.key), host, text, settings, private_key, pulumi.ResourceOptions(parent=self)
            )
        self._set_outputs(
            nftables_table=settings.family_table,
            nftables_default_policy=f"input: {settings.default_action} what no rule accepts; output and forward: not filtered",
            nftables_rulesets={k: r.text for k, r in self.rulesets.items()},
            nftables_files={k: r.file for k, r in self.rulesets.items() if r.file is not None},
        )
