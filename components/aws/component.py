"""``AwsFirewall``: the security groups of ``planner.build_plan`` as pulumi-aws resources.

The only module that imports pulumi_aws. Two modes (``aws.mode``):

- snow: one ``aws.Provider`` per Snowball Edge device (region "snow", EC2 endpoint https://<device>:8243,
  CA bundle or explicit insecure opt-in, the skip flags), and per device one ``aws.ec2.SecurityGroup``
  per group with *inline* CIDR rules and explicit egress. Snow's EC2 endpoint has no security-group-rule
  ids (no DescribeSecurityGroupRules/ModifySecurityGroupRules), so ``aws.vpc.SecurityGroup*Rule`` and
  ``aws.ec2.SecurityGroupRule`` are never used there, and ``revoke_rules_on_delete`` is never set.
- region: one ``aws.Provider`` for the region, ``aws.ec2.SecurityGroup`` without inline rules in the VPC,
  and one ``aws.vpc.SecurityGroupIngressRule`` / ``SecurityGroupEgressRule`` per rule; rules between our
  groups reference the other group (no cycle: groups never depend on rules).
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NotRequired, TypedDict, TypeVar

import pulumi
import pulumi_aws as aws
from pulumi_aws.ec2 import SecurityGroupEgressArgsDict, SecurityGroupIngressArgsDict

from ..component import Environment, FirewallComponent, child_name, token
from ..endpoints import ADMIN_MACHINE, CONTROL_PLANE, ETCD, JENKINS, WORKER
from ..errors import ConfigError
from ..schema import CommonArgs
from . import PLATFORM
from .planner import AwsPlan, Direction, GroupSpec, RuleSpec, build_plan
from .settings import SNOW_REGION, AwsSettings, CaBundle, Device, GroupKey, parse_settings

SECRET_KEYS = PLATFORM.secret_keys  # awsAccessKeyId, awsSecretAccessKey
_ROLE_OUTPUT_KEYS = {
    CONTROL_PLANE: "controlPlane",
    ETCD: "etcd",
    WORKER: "worker",
    ADMIN_MACHINE: "adminMachine",
    JENKINS: "jenkins",
}


class AwsGroupSelectionArgs(TypedDict):
    nodes: NotRequired[bool]
    adminMachine: NotRequired[bool]
    jenkins: NotRequired[bool]


class AwsSettingsArgs(TypedDict):
    mode: NotRequired[str]  # snow | region
    groups: NotRequired[AwsGroupSelectionArgs]
    namePrefix: NotRequired[str]
    tags: NotRequired[dict[str, str]]
    placement: NotRequired[dict[str, list[str]]]  # snow: <cluster> | adminMachine | jenkins -> device names
    caBundle: NotRequired[str]  # snow: PEM file path, or PEM text
    insecure: NotRequired[bool]  # snow: skip TLS verification (explicit opt-in)
    credentialsFile: NotRequired[str]  # snow: shared credentials file; profile = the device's IP (EKS-A's convention)
    region: NotRequired[str]  # region mode: omit it to use the aws provider you pass in opts (or the default)
    vpcId: NotRequired[pulumi.Input[str]]  # e.g. the id of an aws.ec2.Vpc of your own stack
    profile: NotRequired[str]


class AwsFirewallArgs(CommonArgs):
    aws: NotRequired[AwsSettingsArgs]
    awsAccessKeyId: NotRequired[pulumi.Input[str]]  # noqa: N815 - config key, as CommonArgs spells them; always kept secret
    awsSecretAccessKey: NotRequired[pulumi.Input[str]]  # noqa: N815


class AwsFirewall(FirewallComponent):
    """EC2 security groups for the node roles of EKS Anywhere clusters on Snow (or in an AWS region)."""

    PLATFORM = PLATFORM.name

    aws_mode: pulumi.Output[str]
    """``snow`` or ``region``."""
    security_group_ids: pulumi.Output[dict[str, Any]]
    """The group ids per cluster and role (camelCase: controlPlane, etcd, worker), and of the admin machine and
    Jenkins groups. Region: ``{<cluster>: {controlPlane: sg-...}, adminMachine: sg-...}``; Snow, one id per device:
    ``{<cluster>: {controlPlane: {<device>: sg-...}}, adminMachine: {<device>: sg-...}}``."""
    snow_ec2_endpoints: pulumi.Output[dict[str, str]]
    """Snow: each device's EC2 endpoint (https://<device>:8243); empty in region mode."""

    def __init__(self, name: str, args: AwsFirewallArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args, opts)

    def _build(self, name: str, environment: Environment, opts: pulumi.ResourceOptions | None) -> None:
        topology = environment.topology
        settings = parse_settings(topology, read_file=_read_text)  # raises ConfigError: nothing registered yet
        credentials = _credentials(environment.secrets, topology.key_prefix)
        self.plan: AwsPlan = build_plan(topology, environment.flows, settings)  # raises QuotaError, still before super()
        pulumi.ComponentResource.__init__(self, token("AwsFirewall"), name, None, opts)

        self._name = name
        self._group_ids: dict[GroupKey, dict[str, pulumi.Output[str]]] = {}
        if settings.mode == "snow":
            self._snow(credentials)
        else:
            self._region(credentials)
        self._set_outputs(
            aws_mode=settings.mode,
            security_group_ids=self._security_group_ids(),
            snow_ec2_endpoints={d.name: d.ec2_endpoint for d in self.plan.devices} if settings.mode == "snow" else {},
        )

    # --- snow ---------------------------------------------------------------------------------------

    def _snow(self, credentials: tuple[Any, Any] | None) -> None:
        settings = self.plan.settings
        ca_path = _ca_bundle_path(settings.ca_bundle)
        if ca_path is None and not settings.insecure:
            pulumi.log.warn(
                f"{settings.key}.caBundle is not set: the devices' EC2 endpoints must present a certificate that the system "
                "trust store (or AWS_CA_BUNDLE) accepts. Set it to the devices' certificates (snowballEdge get-certificate).",
                self,
            )
        if credentials is None and not settings.credentials_file:
            pulumi.log.info(
                "no awsAccessKeyId/awsSecretAccessKey secrets and no credentialsFile: the devices' keys come from the AWS default "
                "credential chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE)",
                self,
            )
        providers = {d.name: self._snow_provider(d, settings, ca_path, credentials) for d in self.plan.devices}
        for group in self.plan.groups:
            # the same on every device
            ingress = _inline(group, "ingress", SecurityGroupIngressArgsDict)
            egress = _inline(group, "egress", SecurityGroupEgressArgsDict)
            for device in group.devices:
                sg = aws.ec2.SecurityGroup(
                    child_name(self._name, device.name, *group.key.parts),
                    name=group.name,
                    description=group.description,
                    ingress=ingress,
                    egress=egress,  # always explicit: Snow revokes the default allow-all egress
                    tags=dict(group.tags),
                    opts=pulumi.ResourceOptions(parent=self, provider=providers[device.name]),
                )
                self._group_ids.setdefault(group.key, {})[device.name] = sg.id

    def _snow_provider(
        self, device: Device, settings: AwsSettings, ca_path: str | None, credentials: tuple[Any, Any] | None
    ) -> aws.Provider:
        access_key, secret_key = credentials if credentials else (None, None)
        return aws.Provider(
            child_name(self._name, "snow", device.name),
            region=SNOW_REGION,
            endpoints=[{"ec2": device.ec2_endpoint}],
            custom_ca_bundle=ca_path,
            insecure=True if settings.insecure else None,
            access_key=access_key,
            secret_key=secret_key,
            shared_credentials_files=[settings.credentials_file] if settings.credentials_file and not credentials else None,
            profile=device.profile if settings.credentials_file and not credentials else None,
            skip_credentials_validation=True,
            skip_region_validation=True,
            skip_requesting_account_id=True,
            skip_metadata_api_check=True,
            opts=pulumi.ResourceOptions(parent=self),
        )

    # --- region -------------------------------------------------------------------------------------

    def _region(self, credentials: tuple[Any, Any] | None) -> None:
        settings = self.plan.settings
        access_key, secret_key = credentials if credentials else (None, None)
        provider: aws.Provider | None = None
        if settings.region is not None or settings.profile is not None or credentials is not None:
            provider = aws.Provider(
                child_name(self._name, "region"),
                region=settings.region,
                profile=settings.profile,
                access_key=access_key,
                secret_key=secret_key,
                opts=pulumi.ResourceOptions(parent=self),
            )
        # Without region, profile or keys: the children use the provider passed to this component (opts
        # providers/provider), or the default aws provider, like any other resource of the stack.
        ids: dict[GroupKey, pulumi.Output[str]] = {}
        for group in self.plan.groups:
            sg = aws.ec2.SecurityGroup(
                child_name(self._name, *group.key.parts),
                name=group.name,
                description=group.description,
                vpc_id=settings.vpc_id,
                tags=dict(group.tags),
                opts=pulumi.ResourceOptions(parent=self, provider=provider),
            )
            ids[group.key] = sg.id
            self._group_ids[group.key] = {"": sg.id}
        for group in self.plan.groups:
            for rule in (*group.ingress, *group.egress):
                self._region_rule(group, rule, ids, provider)

    def _region_rule(
        self, group: GroupSpec, rule: RuleSpec, ids: Mapping[GroupKey, pulumi.Output[str]], provider: aws.Provider | None
    ) -> None:
        cidr = rule.peer.cidr
        peer_group = rule.peer.group
        kwargs: dict[str, Any] = {
            "security_group_id": ids[group.key],
            "ip_protocol": rule.protocol,
            "from_port": rule.from_port,
            "to_port": rule.to_port,
            # EC2's model allows '&' in the description of a CIDR rule (IpRange) but not of a rule that references a
            # group (UserIdGroupPair.Description): tests/contract checks every description against the model.
            "description": rule.description if peer_group is None else rule.description.replace("&", " "),
            "cidr_ipv4": str(cidr) if cidr is not None and cidr.version == 4 else None,
            "cidr_ipv6": str(cidr) if cidr is not None and cidr.version == 6 else None,
            "referenced_security_group_id": ids[peer_group] if peer_group is not None else None,
            "opts": pulumi.ResourceOptions(parent=self, provider=provider),
        }
        name = child_name(self._name, *group.key.parts, *rule.name_keys)
        if rule.direction == "ingress":
            aws.vpc.SecurityGroupIngressRule(name, **kwargs)
        else:
            aws.vpc.SecurityGroupEgressRule(name, **kwargs)

    # --- outputs ------------------------------------------------------------------------------------

    def _security_group_ids(self) -> dict[str, Any]:
        snow = self.plan.mode == "snow"
        ids: dict[str, Any] = {}
        for key, per_device in self._group_ids.items():
            value: Any = dict(per_device) if snow else per_device[""]
            role = _ROLE_OUTPUT_KEYS[key.role]
            if key.cluster:
                ids.setdefault(key.cluster, {})[role] = value
            else:
                ids[role] = value
        return ids


# Ingress and egress blocks have the same keys; the SDK types them apart.
_InlineRule = TypeVar("_InlineRule", SecurityGroupIngressArgsDict, SecurityGroupEgressArgsDict)


def _inline(group: GroupSpec, direction: Direction, rule_type: type[_InlineRule]) -> list[_InlineRule]:
    """A group's inline blocks of one direction as the SDK's rule dicts (CIDR lists only when not empty)."""
    out: list[_InlineRule] = []
    for b in group.blocks(direction):
        rule = rule_type(protocol=b.protocol, from_port=b.from_port, to_port=b.to_port, description=b.description)
        if b.cidr_blocks:
            rule["cidr_blocks"] = list(b.cidr_blocks)
        if b.ipv6_cidr_blocks:
            rule["ipv6_cidr_blocks"] = list(b.ipv6_cidr_blocks)
        out.append(rule)
    return out


def _credentials(secrets: Mapping[str, Any], key_prefix: str) -> tuple[Any, Any] | None:
    """The static keys from the secret config (marked secret whatever the caller passed), or None."""
    access_key, secret_key = (secrets.get(k) for k in SECRET_KEYS)
    if (access_key is None) != (secret_key is None):
        missing = SECRET_KEYS[0] if access_key is None else SECRET_KEYS[1]
        raise ConfigError.one(
            f"{key_prefix}{missing}",
            "is missing: the access key id and the secret access key go together",
            f"pulumi config set --secret {missing} <value>",
        )
    if access_key is None:
        return None  # the AWS default chain (AWS_ACCESS_KEY_ID..., AWS_PROFILE), or aws.credentialsFile on Snow
    return pulumi.Output.secret(access_key), pulumi.Output.secret(secret_key)


def _read_text(path: str) -> str:
    return Path(path).expanduser().read_text(encoding="utf-8")


def _ca_bundle_path(ca: CaBundle | None) -> str | None:
    """pulumi-aws's custom_ca_bundle is a *file path*: PEM text given in the config is written to a file.

    The path must be the same on every run (it is a provider input: a new path would show as a change in every
    preview), so the file is named by the text's hash, inside a directory that only this user can write
    (``private_directory``). It is written to a fresh ``mkstemp`` file first and moved into place with
    ``os.replace``, which replaces a directory entry and never follows a link."""
    if ca is None:
        return None
    if ca.path is not None:
        return ca.path  # as written: relative paths are read from the project directory, where Pulumi runs
    assert ca.pem is not None
    directory = private_directory()
    path = directory / f"ca-{hashlib.sha256(ca.pem.encode()).hexdigest()[:16]}.pem"
    fd, scratch = tempfile.mkstemp(prefix=".ca-", suffix=".pem", dir=directory)  # O_EXCL, mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(ca.pem)
        os.replace(scratch, path)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise
    return str(path)


def private_directory() -> Path:
    """``$XDG_CACHE_HOME/eksa-firewall`` (default ``~/.cache/eksa-firewall``): created with mode 0700 and checked
    to be a real directory owned by this user that nobody else can write, or refused."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    directory = base / "eksa-firewall"
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.lstat(directory)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
        raise ConfigError.one(
            "aws.caBundle",
            f"the directory for the CA bundle file, {directory}, is not a private directory of this user (a link, another "
            "owner, or writable by others)",
            f"remove {directory} so eksa-firewall can create it (mode 0700), or give aws.caBundle as a file path",
        )
    return directory
