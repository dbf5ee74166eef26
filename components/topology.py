"""The environment a user describes: platform, clusters, how each role's machines are addressed, peers.

``parse_topology`` turns the untyped config (a stack file's keys, or a component's ``args``) into frozen
dataclasses and checks everything it can before any resource exists. The config shape is documented
key by key in docs/configuration.md and typed in ``components/schema.py``.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .addresses import parse_network, span
from .catalog import ADDONS, LATEST_KNOWN_EKSA_VERSION, Version, format_version, load_catalog, parse_version
from .endpoints import ADMIN_MACHINE, CONTROL_PLANE, CONTROL_PLANE_VIP, ETCD, JENKINS, ROUTERS, TINKERBELL_VIP, WORKER, Role
from .exposure import anywhere_families, exposure_share
from .hardware import Machine, parse_hardware_csv
from .platform import Platform, all_secret_keys, all_sections, platforms
from .reader import Network, Reader, canonical_networks, is_everywhere, key_join

# Top-level keys, in the order docs/configuration.md explains them. Platform sections and secret keys come
# from the platform registry (components/platform.py); each platform's own module parses its section.
COMMON_KEYS = (
    "platform", "eksaVersion", "adminMachine", "clients", "allowSshFromAnywhere", "allowOverlappingRoles", "cilium",
    "managementTools", "endpoints", "hardwareCsv", "clusters",
)  # fmt: skip


def top_level_keys() -> tuple[str, ...]:
    return (*COMMON_KEYS, *all_sections(), *all_secret_keys())


DEFAULT_API_SERVER_PORT = 6443
DEFAULT_ETCD_CLIENT_PORT = 2379
DEFAULT_ETCD_PEER_PORT = 2380
DEFAULT_PRISM_CENTRAL_PORT = 9440
# EKS-A's clusterNetwork defaults, as `eksctl anywhere generate clusterconfig` writes them
# (aws/eks-anywhere pkg/api/v1alpha1/cluster.go:59 and :62, NewClusterGenerate).
DEFAULT_PODS_CIDR = parse_network("192.168.0.0/16")
DEFAULT_SERVICES_CIDR = parse_network("10.96.0.0/12")
_ROLE_KEYS = ("addresses", "hardwareSelector")


@dataclass(frozen=True, kw_only=True, slots=True)
class RoleMachines:
    """The machines of one role, by address (listed, or chosen from the hardware CSV by hardwareSelector)."""

    addresses: tuple[Network, ...]
    key: str  # the config key that describes them, for messages


@dataclass(frozen=True, kw_only=True, slots=True)
class WorkerGroup:
    """One worker node group of a cluster."""

    name: str
    machines: RoleMachines


@dataclass(frozen=True, kw_only=True, slots=True)
class LoadBalancer:
    """An external load balancer in front of the API server (``controlPlane.loadBalancer``)."""

    address: Network
    port: int


@dataclass(frozen=True, kw_only=True, slots=True)
class Cluster:
    """One EKS Anywhere cluster: its machines by role, its endpoint, ports and who manages it."""

    name: str
    managed_by: str | None  # None: a management (self-managed) cluster
    control_plane: RoleMachines
    endpoint: Network  # the control-plane VIP (kube-vip), a single address
    api_server_port: int
    api_load_balancer: LoadBalancer | None
    external_etcd: RoleMachines | None
    etcd_client_port: int
    etcd_peer_port: int
    worker_groups: tuple[WorkerGroup, ...]
    # clusterNetwork: the pod and Service ranges (EKS-A's defaults when the stack leaves them out).
    pods: Network = DEFAULT_PODS_CIDR
    services: Network = DEFAULT_SERVICES_CIDR
    defaulted: frozenset[str] = frozenset()  # the clusterNetwork keys left to EKS-A's defaults: "pods", "services"
    addons: tuple[str, ...] = ()  # opt-in add-ons (catalog ADDONS), sorted
    routers: tuple[Network, ...] = ()  # the BGP routers the BGP add-ons peer with
    key: str = ""  # the config key of this cluster (clusters[i]), for messages

    _workers: tuple[Network, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_workers", canonical_networks([a for g in self.worker_groups for a in g.machines.addresses]))

    @property
    def workers(self) -> tuple[Network, ...]:
        return self._workers

    @property
    def etcd(self) -> tuple[Network, ...]:
        return self.addresses_of(ETCD)

    @property
    def roles(self) -> tuple[Role, ...]:
        """The node roles that have machines of their own: control-plane, etcd (external only), worker."""
        return (CONTROL_PLANE, *((ETCD,) if self.external_etcd else ()), *((WORKER,) if self.worker_groups else ()))

    @property
    def kubernetes_roles(self) -> tuple[Role, ...]:
        """The roles of the cluster's Kubernetes nodes: the control plane, and the workers if it has any
        (external etcd machines are not Kubernetes nodes). The catalog's ``nodes``; what a managing cluster is."""
        return (CONTROL_PLANE, *((WORKER,) if self.worker_groups else ()))

    def machine_role(self, role: Role) -> Role:
        """The role whose machines play ``role``: stacked etcd runs on the control plane's machines."""
        return CONTROL_PLANE if role == ETCD and self.external_etcd is None else role

    def addresses_of(self, role: Role) -> tuple[Network, ...]:
        """The addresses of the machines that play ``role`` (``etcd``: the control plane's when stacked)."""
        machines = self.machine_role(role)
        if machines == CONTROL_PLANE:
            return self.control_plane.addresses
        if machines == WORKER:
            return self.workers
        if machines == ETCD and self.external_etcd is not None:
            return self.external_etcd.addresses
        raise ValueError(f"{role!r} is not a node role")


@dataclass(frozen=True, kw_only=True, slots=True)
class Clients:
    """Who may reach the clusters from outside: the API, SSH and NodePorts (``clients``)."""

    api: tuple[Network, ...] = ()
    ssh: tuple[Network, ...] = ()
    node_port: tuple[Network, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class Jenkins:
    """The Jenkins server of the management tools and its clients (``managementTools.jenkins``)."""

    address: Network
    clients: tuple[Network, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class SnowDevice:
    """One Snowball Edge device (``endpoints.snowDevices``)."""

    name: str
    address: Network


@dataclass(frozen=True, kw_only=True, slots=True)
class Bmc:
    """One machine's BMC: from the hardware CSV, or listed in ``endpoints.bmcs``."""

    name: str  # the machine's hostname
    address: Network


@dataclass(frozen=True, kw_only=True, slots=True)
class Endpoints:
    """The platform's own endpoints: vCenter, Prism Central, Snow devices, Tinkerbell, BMCs."""

    vcenter: Network | None = None
    prism_central: Network | None = None
    prism_central_port: int = DEFAULT_PRISM_CENTRAL_PORT
    snow_devices: tuple[SnowDevice, ...] = ()
    tinkerbell_ip: Network | None = None
    bmcs: tuple[Bmc, ...] = ()
    # The addresses of the devices and the BMCs, canonical (the flows of every cluster ask for them).
    snow_device_addresses: tuple[Network, ...] = field(init=False, repr=False, compare=False)
    bmc_addresses: tuple[Network, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "snow_device_addresses", canonical_networks(d.address for d in self.snow_devices))
        object.__setattr__(self, "bmc_addresses", canonical_networks(b.address for b in self.bmcs))


@dataclass(frozen=True, kw_only=True, slots=True)
class Topology:
    """One environment, validated: what the flows and every planner are computed from."""

    platform: str
    eksa_version: Version
    admin_machine: tuple[Network, ...]
    clients: Clients
    allow_ssh_from_anywhere: bool
    cilium: bool
    jenkins: Jenkins | None
    endpoints: Endpoints
    clusters: tuple[Cluster, ...]
    # The platform's own section (e.g. `vsphere`), unparsed: the platform's settings module owns its schema.
    # Values that only pass through to a resource (a VPC id, Prism ids) may be pulumi Outputs here.
    settings: Mapping[str, Any] = field(default_factory=dict)
    settings_key: str = ""
    key_prefix: str = ""
    _by_name: Mapping[str, Cluster] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", MappingProxyType({c.name: c for c in self.clusters}))

    @property
    def platform_spec(self) -> Platform:
        """The registry's declaration of this topology's platform."""
        return platforms()[self.platform]

    def cluster(self, name: str) -> Cluster:
        """The cluster called ``name`` (KeyError when there is none)."""
        return self._by_name[name]


ReadFile = Callable[[str], str]


def _read_file(path: str) -> str:
    from .errors import EksaFirewallError
    from .stackfile import read_text  # a regular file of bounded size, UTF-8; a stack program needs no YAML otherwise

    try:
        return read_text(Path(path), "hardware CSV")
    except EksaFirewallError as exc:  # _hardware reports it with the config key
        raise OSError(str(exc)) from None


def parse_topology(
    config: Mapping[str, Any], *, platform: str | None = None, key_prefix: str = "", read_file: ReadFile = _read_file
) -> Topology:
    """Validate ``config`` and build the topology, or raise one ``ConfigError`` listing every problem.

    ``platform``: the platform a component builds (its args need no ``platform`` key then; one that is given
    must agree). ``key_prefix`` is prepended to every key in messages: ``"eksa-firewall:"`` for stack config,
    ``""`` for component args. ``read_file`` reads the hardware CSV (tests pass their own).
    """
    r = Reader()
    k = key_prefix

    def key(name: str) -> str:
        return f"{k}{name}"

    r.unknown_keys(config, key_prefix, top_level_keys())
    known = tuple(platforms())
    if platform is None:
        chosen = r.choice(config.get("platform"), key("platform"), known)
    else:
        chosen = platform
        given = config.get("platform")
        if given is not None and given != platform:
            r.problem(
                key("platform"),
                f"is {given!r}, but this component builds {platform!r} firewalls",
                f"remove {key('platform')} (the component decides it), or use the {given} component",
            )
    platform = chosen
    spec = platforms().get(platform) if platform is not None else None
    version = _version(config.get("eksaVersion"), key("eksaVersion"), r)

    admin_cfg = r.mapping(config.get("adminMachine"), key("adminMachine"), ("addresses",))
    admin = r.networks(admin_cfg.get("addresses"), key_join(key("adminMachine"), "addresses"), required=bool(admin_cfg))

    clients_cfg = r.mapping(config.get("clients"), key("clients"), ("api", "ssh", "nodePort"), required=False)
    clients = Clients(
        api=r.networks(clients_cfg.get("api"), key_join(key("clients"), "api")),
        ssh=r.networks(clients_cfg.get("ssh"), key_join(key("clients"), "ssh")),
        node_port=r.networks(clients_cfg.get("nodePort"), key_join(key("clients"), "nodePort")),
    )
    allow_ssh_anywhere = r.boolean(config.get("allowSshFromAnywhere"), key("allowSshFromAnywhere"), False)
    families = anywhere_families(clients.ssh)
    if families and not allow_ssh_anywhere:
        ssh_key = key_join(key("clients"), "ssh")
        whole = [n for n in clients.ssh if is_everywhere(n)]
        index = r.written_index(clients_cfg.get("ssh"), whole[0]) if whole else None
        where = key_join(ssh_key, index) if index is not None else ssh_key
        internet = " and ".join(f"IPv{v}" for v in families)
        r.problem(
            where,
            f"opens SSH on every node to the {internet} Internet"
            + ("" if whole else f" (its ranges together cover more than {exposure_share()} of it)"),
            f"list your bastion or admin ranges instead, or set {key('allowSshFromAnywhere')}: true if you really mean it",
        )
    cilium = r.boolean(config.get("cilium"), key("cilium"), True)
    jenkins = _jenkins(config.get("managementTools"), key("managementTools"), r)
    endpoints = _endpoints(config.get("endpoints"), key("endpoints"), r)
    hardware = _hardware(config.get("hardwareCsv"), key("hardwareCsv"), r, read_file)
    clusters = _clusters(config.get("clusters"), key("clusters"), r, hardware)
    _addons_need_cilium(clusters, cilium, key("cilium"), r)
    claims = _claims(clusters, admin, endpoints.tinkerbell_ip, jenkins, key)
    if not r.boolean(config.get("allowOverlappingRoles"), key("allowOverlappingRoles"), False):
        _refuse_overlaps(claims, key("allowOverlappingRoles"), r)
    _refuse_cluster_ranges(clusters, claims, r, default_pods_used=spec is not None and spec.host_firewall)

    if spec is not None:
        _platform_requirements(spec, endpoints, key, r)
        if config.get("hardwareCsv") is not None and not spec.uses_hardware_csv:
            users = ", ".join(p.name for p in platforms().values() if p.uses_hardware_csv)
            r.problem(key("hardwareCsv"), f"is not used on {spec.name} (only on {users})", "remove it")
        for secret in all_secret_keys():
            if config.get(secret) is not None and secret not in spec.secret_keys:
                r.problem(key(secret), f"is not used on {spec.name}", f"remove it (pulumi config rm {secret})")
    if hardware and not endpoints.bmcs:
        endpoints = replace(endpoints, bmcs=tuple(Bmc(name=m.hostname, address=m.bmc) for m in hardware if m.bmc is not None))

    settings_name = spec.section if spec is not None else ""
    for section in all_sections() if spec is not None else ():  # an unknown platform is reported once, above
        if section in config and section != settings_name:
            r.problem(key(section), f"belongs to another platform than {platform!r}", f"remove {key(section)}")
    raw_settings = config.get(settings_name) if settings_name else None
    if raw_settings is not None and not isinstance(raw_settings, Mapping):
        r.problem(key(settings_name), "must be a mapping", f"write {key(settings_name)} as `key: value` lines")
        raw_settings = None

    r.done()
    assert platform is not None and version is not None
    return Topology(
        platform=platform,
        eksa_version=version,
        admin_machine=admin,
        clients=clients,
        allow_ssh_from_anywhere=allow_ssh_anywhere,
        cilium=cilium,
        jenkins=jenkins,
        endpoints=endpoints,
        clusters=clusters,
        settings=dict(raw_settings or {}),
        settings_key=key(settings_name),
        key_prefix=key_prefix,
    )


def _version(value: Any, key: str, r: Reader) -> Version | None:
    text = r.string(value, key, required=False, default="latest")
    if text is None or text == "latest":
        return LATEST_KNOWN_EKSA_VERSION
    try:
        version = parse_version(text)
    except ValueError as exc:
        r.problem(key, str(exc), "write the EKS Anywhere release you run, such as v0.24, or 'latest'")
        return None
    if version > LATEST_KNOWN_EKSA_VERSION:
        newest = format_version(LATEST_KNOWN_EKSA_VERSION)
        r.problem(
            key,
            f"{text} is newer than the newest release this catalog knows ({newest}); its ports may have changed",
            f"set it to 'latest' (= {newest}) after checking the EKS-A release notes, or upgrade eksa-firewall",
        )
        return None
    return version


def _jenkins(value: Any, key: str, r: Reader) -> Jenkins | None:
    tools = r.mapping(value, key, ("jenkins",), required=False)
    jkey = key_join(key, "jenkins")
    cfg = r.mapping(tools.get("jenkins"), jkey, ("enabled", "address", "clients"), required=False)
    if not cfg or not r.boolean(cfg.get("enabled"), key_join(jkey, "enabled"), True):
        return None
    address = r.address(cfg.get("address"), key_join(jkey, "address"))
    clients = r.networks(cfg.get("clients"), key_join(jkey, "clients"), required=True)
    return Jenkins(address=address, clients=clients) if address is not None else None


def _endpoints(value: Any, key: str, r: Reader) -> Endpoints:
    allowed = ("vcenter", "prismCentral", "prismCentralPort", "snowDevices", "tinkerbellIp", "bmcs")
    cfg = r.mapping(value, key, allowed, required=False)
    devices: list[SnowDevice] = []
    names: set[str] = set()
    for i, raw in enumerate(r.seq(cfg.get("snowDevices"), key_join(key, "snowDevices"))):
        dkey = key_join(key_join(key, "snowDevices"), i)
        d = r.mapping(raw, dkey, ("name", "address"))
        name = r.string(d.get("name"), key_join(dkey, "name"))
        address = r.address(d.get("address"), key_join(dkey, "address"))
        if name is not None and name in names:
            r.problem(key_join(dkey, "name"), f"device name {name!r} is used twice", "give every device its own name")
        if name is not None and address is not None:
            names.add(name)
            devices.append(SnowDevice(name=_dns_label(name, key_join(dkey, "name"), r), address=address))
    bmcs: list[Bmc] = []
    for i, raw in enumerate(r.seq(cfg.get("bmcs"), key_join(key, "bmcs"))):
        bkey = key_join(key_join(key, "bmcs"), i)
        b = r.mapping(raw, bkey, ("name", "address"))
        name = r.string(b.get("name"), key_join(bkey, "name"))
        address = r.address(b.get("address"), key_join(bkey, "address"))
        if name is not None and address is not None:
            bmcs.append(Bmc(name=name, address=address))
    return Endpoints(
        vcenter=r.address(cfg.get("vcenter"), key_join(key, "vcenter"), required=False),
        prism_central=r.address(cfg.get("prismCentral"), key_join(key, "prismCentral"), required=False),
        prism_central_port=r.port(cfg.get("prismCentralPort"), key_join(key, "prismCentralPort"), DEFAULT_PRISM_CENTRAL_PORT),
        snow_devices=tuple(sorted(devices, key=lambda d: d.name)),
        tinkerbell_ip=r.address(cfg.get("tinkerbellIp"), key_join(key, "tinkerbellIp"), required=False),
        bmcs=tuple(sorted(bmcs, key=lambda b: b.name)),
    )


# ``endpoints.<key>`` -> the Endpoints field that holds it (what a platform's required_endpoints name).
_ENDPOINT_FIELDS = {
    "vcenter": "vcenter", "prismCentral": "prism_central", "snowDevices": "snow_devices",
    "tinkerbellIp": "tinkerbell_ip", "bmcs": "bmcs",
}  # fmt: skip


def _platform_requirements(platform: Platform, endpoints: Endpoints, key: Callable[[str], str], r: Reader) -> None:
    for need in platform.required_endpoints:
        if not getattr(endpoints, _ENDPOINT_FIELDS[need.key]):
            r.problem(key_join(key("endpoints"), need.key), f"is required on {platform.name}", f"set it to {need.what}")


def _hardware(value: Any, key: str, r: Reader, read_file: ReadFile) -> tuple[Machine, ...]:
    path = r.string(value, key, required=False)
    if path is None:
        return ()
    try:
        text = read_file(path)
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path, which no file name holds
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        r.problem(key, f"cannot read {path!r} ({reason})", "give the path of the hardware CSV, relative to the project directory")
        return ()
    return parse_hardware_csv(text, key, r)


def _dns_label(name: str, key: str, r: Reader) -> str:
    ok = 0 < len(name) <= 63 and name[0].isalnum() and name[-1].isalnum()
    ok = ok and all(c.islower() or c.isdigit() or c == "-" for c in name)
    if not ok:
        r.problem(key, f"{name!r} is not a valid name", "use lower-case letters, digits and '-' (at most 63), as EKS-A does")
    return name


def _clusters(value: Any, key: str, r: Reader, hardware: tuple[Machine, ...]) -> tuple[Cluster, ...]:
    items = r.seq(value, key, required=True, non_empty=True)
    clusters: list[Cluster] = []
    names: dict[str, str] = {}
    managed: dict[str, tuple[str, str]] = {}
    for i, raw in enumerate(items):
        ckey = key_join(key, i)
        cfg = r.mapping(raw, ckey, ("name", "managedBy", "controlPlane", "etcd", "workerGroups", "clusterNetwork", "addons", "routers"))
        if not cfg:
            continue
        name = r.string(cfg.get("name"), key_join(ckey, "name"))
        if name is None:
            continue
        _dns_label(name, key_join(ckey, "name"), r)
        if name in names:
            r.problem(key_join(ckey, "name"), f"cluster {name!r} is already defined at {names[name]}", "give every cluster its own name")
            continue
        names[name] = ckey
        managed_by = r.string(cfg.get("managedBy"), key_join(ckey, "managedBy"), required=False)
        if managed_by == name:
            managed_by = None
        if managed_by is not None:
            managed[name] = (managed_by, key_join(ckey, "managedBy"))
        cluster = _cluster(name, managed_by, cfg, ckey, r, hardware)
        if cluster is not None:
            clusters.append(cluster)
    for manager, mkey in managed.values():
        if manager not in names:
            r.problem(
                mkey,
                f"names no cluster defined here ({manager!r})",
                f"set it to one of {', '.join(sorted(names))}, or remove it for a self-managed cluster",
            )
        elif manager in managed:
            r.problem(
                mkey,
                f"{manager!r} is itself managed by another cluster",
                "name a management (self-managed) cluster: EKS-A management clusters manage themselves",
            )
    return tuple(sorted(clusters, key=lambda c: c.name))


def _machines(cfg: Mapping[str, Any], key: str, r: Reader, hardware: tuple[Machine, ...]) -> RoleMachines | None:
    addresses = list(r.networks(cfg.get("addresses"), key_join(key, "addresses")))
    selector_cfg = cfg.get("hardwareSelector")
    if selector_cfg is not None:
        skey = key_join(key, "hardwareSelector")
        if not isinstance(selector_cfg, Mapping) or not selector_cfg or not all(isinstance(v, str) for v in selector_cfg.values()):
            r.problem(skey, "must be a mapping of label to value", "write it as in TinkerbellMachineConfig, e.g. {type: cp}")
        elif not hardware:
            r.problem(skey, "needs a hardware CSV", "set hardwareCsv to the CSV you give eksctl, or list addresses instead")
        else:
            chosen = [m.address for m in hardware if m.matches(dict(selector_cfg))]
            if not chosen:
                labels = sorted({f"{a}={b}" for m in hardware for a, b in m.labels})
                r.problem(
                    skey,
                    f"matches no machine in the hardware CSV (labels there: {', '.join(labels) or 'none'})",
                    "use a label the CSV's `labels` column carries",
                )
            addresses.extend(chosen)
    if not addresses:
        given = cfg.get("addresses")
        if not (isinstance(given, list) and given):  # otherwise its invalid entries were reported already
            r.problem(
                key_join(key, "addresses"),
                "lists no address: the machines of this role cannot be identified",
                "list the role's IPs or CIDRs (the IP pool or subnet EKS-A assigns them)" + (", or a hardwareSelector" if hardware else ""),
            )
        return None
    return RoleMachines(addresses=canonical_networks(addresses), key=key)


def _cluster(
    name: str, managed_by: str | None, cfg: Mapping[str, Any], ckey: str, r: Reader, hardware: tuple[Machine, ...]
) -> Cluster | None:
    cp_key = key_join(ckey, "controlPlane")
    cp_cfg = r.mapping(cfg.get("controlPlane"), cp_key, (*_ROLE_KEYS, "endpoint", "apiServerPort", "loadBalancer"))
    control_plane = _machines(cp_cfg, cp_key, r, hardware) if cp_cfg else None
    endpoint = r.address(cp_cfg.get("endpoint"), key_join(cp_key, "endpoint")) if cp_cfg else None
    api_port = r.port(cp_cfg.get("apiServerPort"), key_join(cp_key, "apiServerPort"), DEFAULT_API_SERVER_PORT)
    if api_port not in (DEFAULT_API_SERVER_PORT, 443):
        r.problem(key_join(cp_key, "apiServerPort"), f"{api_port} is not a port EKS-A serves the API on", "use 6443 (default) or 443")
    lb: LoadBalancer | None = None
    if cp_cfg.get("loadBalancer") is not None:
        lb_key = key_join(cp_key, "loadBalancer")
        lb_cfg = r.mapping(cp_cfg.get("loadBalancer"), lb_key, ("address", "port"))
        lb_addr = r.address(lb_cfg.get("address"), key_join(lb_key, "address"))
        lb_port = r.port(lb_cfg.get("port"), key_join(lb_key, "port"), 443)
        if lb_addr is not None:
            lb = LoadBalancer(address=lb_addr, port=lb_port)

    etcd_key = key_join(ckey, "etcd")
    etcd_cfg = r.mapping(cfg.get("etcd"), etcd_key, ("external", *_ROLE_KEYS, "clientPort", "peerPort"), required=False)
    external = r.boolean(etcd_cfg.get("external"), key_join(etcd_key, "external"), False)
    external_etcd: RoleMachines | None = None
    if external:
        external_etcd = _machines(etcd_cfg, etcd_key, r, hardware)
    elif any(etcd_cfg.get(x) is not None for x in _ROLE_KEYS):
        r.problem(
            etcd_key,
            "lists machines, but etcd is stacked on the control plane",
            f"set {key_join(etcd_key, 'external')}: true, or remove the addresses",
        )
    client_port = r.port(etcd_cfg.get("clientPort"), key_join(etcd_key, "clientPort"), DEFAULT_ETCD_CLIENT_PORT)
    peer_port = r.port(etcd_cfg.get("peerPort"), key_join(etcd_key, "peerPort"), DEFAULT_ETCD_PEER_PORT)
    if client_port == peer_port:
        r.problem(
            key_join(etcd_key, "peerPort"), f"equals clientPort ({client_port})", "etcd needs two ports: the client API and peer traffic"
        )

    groups: list[WorkerGroup] = []
    wkey = key_join(ckey, "workerGroups")
    seen: set[str] = set()
    for i, raw in enumerate(r.seq(cfg.get("workerGroups"), wkey)):
        gkey = key_join(wkey, i)
        g = r.mapping(raw, gkey, ("name", *_ROLE_KEYS))
        gname = r.string(g.get("name"), key_join(gkey, "name"))
        if gname is None:
            continue
        _dns_label(gname, key_join(gkey, "name"), r)
        if gname in seen:
            r.problem(key_join(gkey, "name"), f"worker group {gname!r} is defined twice", "give every worker group its own name")
            continue
        seen.add(gname)
        machines = _machines(g, gkey, r, hardware)
        if machines is not None:
            groups.append(WorkerGroup(name=gname, machines=machines))

    pods, services, defaulted = _cluster_network(cfg.get("clusterNetwork"), key_join(ckey, "clusterNetwork"), r)
    addons = _addons(cfg.get("addons"), key_join(ckey, "addons"), r)
    routers = _routers(cfg.get("routers"), key_join(ckey, "routers"), key_join(ckey, "addons"), addons, r)

    if control_plane is None or endpoint is None:
        return None
    return Cluster(
        name=name,
        managed_by=managed_by,
        control_plane=control_plane,
        endpoint=endpoint,
        api_server_port=api_port,
        api_load_balancer=lb,
        external_etcd=external_etcd,
        etcd_client_port=client_port,
        etcd_peer_port=peer_port,
        worker_groups=tuple(sorted(groups, key=lambda g: g.name)),
        pods=pods,
        services=services,
        defaulted=defaulted,
        addons=addons,
        routers=routers,
        key=ckey,
    )


def _cluster_network(value: Any, key: str, r: Reader) -> tuple[Network, Network, frozenset[str]]:
    """``clusterNetwork``: the pods and services CIDRs (one each, as EKS-A allows), EKS-A's defaults when absent."""
    cfg = r.mapping(value, key, ("pods", "services"), required=False)
    out: list[Network] = []
    defaulted: set[str] = set()
    for name, default in (("pods", DEFAULT_PODS_CIDR), ("services", DEFAULT_SERVICES_CIDR)):
        raw, ckey = cfg.get(name), key_join(key, name)
        net: Network | None = None
        if raw is None:
            defaulted.add(name)
        elif isinstance(raw, (Mapping, list)):
            r.problem(
                ckey,
                "must be one CIDR",
                f"write the CIDR itself, e.g. {name}: {default} (the cluster spec's clusterNetwork.{name}.cidrBlocks[0]: "
                "EKS-A takes exactly one)",
            )
        else:
            net = r.network(raw, ckey)
            if net is not None and net.num_addresses == 1:
                r.problem(ckey, f"{net} is a single address", f"give the cluster's {name} CIDR, e.g. {default}")
                net = None
        out.append(net or default)
    return out[0], out[1], frozenset(defaulted)


def _addons(value: Any, key: str, r: Reader) -> tuple[str, ...]:
    """``addons``: names from the catalog's ADDONS, each once (did-you-mean on a misspelt one)."""
    seen: dict[str, int] = {}
    for i, raw in enumerate(r.seq(value, key)):
        name = r.choice(raw, key_join(key, i), ADDONS)
        if name is None:
            continue
        if name in seen:
            r.problem(
                key_join(key, i), f"{name!r} is listed twice (also at {key_join(key, seen[name])})", f"remove the duplicate from {key}"
            )
            continue
        seen[name] = i
    return tuple(sorted(seen))


def _addons_need_cilium(clusters: tuple[Cluster, ...], cilium: bool, cilium_key: str, r: Reader) -> None:
    """An add-on whose rows all need Cilium (hubble-relay) opens nothing with ``cilium: false``: say so."""
    if cilium:
        return
    catalog = load_catalog()
    for c in clusters:
        for name in c.addons:
            rows = [row for row in catalog if row.addon == name]
            if rows and all(row.when == "cilium" for row in rows):
                r.problem(
                    key_join(c.key, "addons"),
                    f"lists {name}, which is part of Cilium, but {cilium_key} is false",
                    f"remove {name}, or set {cilium_key}: true if the cluster runs EKS-A's Cilium",
                )


@cache
def _bgp_addons() -> tuple[str, ...]:
    """The add-ons that need BGP routers (a row towards ``routers``): the same for every cluster."""
    return load_catalog().addons_reaching(ROUTERS)


def _routers(value: Any, key: str, addons_key: str, addons: tuple[str, ...], r: Reader) -> tuple[Network, ...]:
    """``routers``: the BGP routers, required exactly when a BGP add-on (one with a row towards them) is listed."""
    routers = r.networks(value, key)
    bgp_addons = _bgp_addons()
    bgp = [a for a in addons if a in bgp_addons]
    if bgp and not routers and not (isinstance(value, list) and value):  # invalid entries were reported already
        r.problem(
            key,
            f"is required by {', '.join(bgp)} in {addons_key}: BGP mode peers with routers",
            "list the routers' addresses the speakers dial (MetalLB BGPPeer.peerAddress, kube-vip bgp_peers)",
        )
    if routers and not bgp:
        r.problem(
            key,
            "lists BGP routers, but no add-on of this cluster speaks BGP",
            f"add {' or '.join(bgp_addons)} to {addons_key}, or remove {key}",
        )
    return routers


# --- overlaps: a machine gets the rules of every role whose addresses hold it --------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class _Claim:
    """Addresses one config key gives to one kind of machine (a role of a cluster, a VIP, the admin machine)."""

    key: str
    kind: str  # a node role, "control-plane-vip", "tinkerbell-vip", "admin-machine" or "routers"
    cluster: str | None
    networks: tuple[Network, ...]


def _claims(
    clusters: tuple[Cluster, ...],
    admin: tuple[Network, ...],
    tinkerbell: Network | None,
    jenkins: Jenkins | None,
    key: Callable[[str], str],
) -> list[_Claim]:
    claims = [_Claim(key=key_join(key("adminMachine"), "addresses"), kind=ADMIN_MACHINE, cluster=None, networks=admin)]
    if jenkins is not None:
        claims.append(_Claim(key=f"{key('managementTools')}.jenkins.address", kind=JENKINS, cluster=None, networks=(jenkins.address,)))
    if tinkerbell is not None:
        claims.append(_Claim(key=key_join(key("endpoints"), "tinkerbellIp"), kind=TINKERBELL_VIP, cluster=None, networks=(tinkerbell,)))
    for c in clusters:
        # Per config key: each worker group is its own claim, so a message names the group's key.
        machines = [(CONTROL_PLANE, c.control_plane), *(((ETCD, c.external_etcd),) if c.external_etcd else ())]
        machines += [(WORKER, g.machines) for g in c.worker_groups]
        claims += [_Claim(key=key_join(m.key, "addresses"), kind=role, cluster=c.name, networks=m.addresses) for role, m in machines]
        claims.append(_Claim(key=key_join(c.control_plane.key, "endpoint"), kind=CONTROL_PLANE_VIP, cluster=c.name, networks=(c.endpoint,)))
        if c.routers:
            claims.append(_Claim(key=key_join(c.key, "routers"), kind=ROUTERS, cluster=c.name, networks=c.routers))
    return claims


def _may_share(a: _Claim, b: _Claim) -> bool:
    """Addresses two claims may share: a VIP inside its control plane's range (kube-vip runs on those nodes), the
    Tinkerbell VIP inside a control plane's range, two worker groups of one cluster (the same rules), the routers
    of several clusters (they peer with the same routers)."""
    if a.kind == b.kind == ROUTERS:
        return True
    pair = {a.kind, b.kind}
    if pair == {CONTROL_PLANE_VIP, CONTROL_PLANE}:
        return a.cluster == b.cluster
    if pair == {TINKERBELL_VIP, CONTROL_PLANE}:
        return True
    return a.kind == b.kind == WORKER and a.cluster == b.cluster


def _refuse_overlaps(claims: list[_Claim], option: str, r: Reader) -> None:
    """Report claims whose addresses overlap: a sweep over the ranges sorted by start, O(n log n).

    A claim that counts as "anywhere" (components/exposure.py) is no set of machines: the exposure rules judge
    it (sensitive ports, SSH), not this check. Each claim is reported once, naming every claim it overlaps."""
    spans = sorted(
        ((n.version, *span(n), i, n) for i, c in enumerate(claims) if not anywhere_families(c.networks) for n in c.networks),
        key=lambda s: s[:3],
    )
    partners: dict[int, dict[int, tuple[Network, Network]]] = {}
    reach: tuple[int, int, int, Network] | None = None  # (version, end, claim index, network): the span reaching furthest
    for version, start, end, i, net in spans:
        if reach is not None and reach[0] == version and start <= reach[1] and reach[2] != i:
            j, other = reach[2], reach[3]
            if not _may_share(claims[j], claims[i]):
                partners.setdefault(i, {}).setdefault(j, (net, other))
        if reach is None or reach[0] != version or end > reach[1]:
            reach = (version, end, i, net)
    for i, found in sorted(partners.items()):
        b = claims[i]
        overlaps = "; ".join(f"{net} overlaps {other} of {claims[j].key} ({_what(claims[j])})" for j, (net, other) in sorted(found.items()))
        r.problem(
            b.key,
            f"{overlaps}: a machine there would get the rules of both ({_what(b)} too)",
            f"give each its own addresses (the IP pool or subnet EKS-A assigns it), or set {option}: true if these "
            "machines really serve both (docs/configuration.md)",
        )


def _what(claim: _Claim) -> str:
    return f"{claim.cluster} {claim.kind}" if claim.cluster else claim.kind


# --- a cluster's pod and Service ranges hold no machine -------------------------------------------------------

MAX_NAMED_OVERLAPS = 3  # a range over many machines names the first few


def _refuse_cluster_ranges(clusters: tuple[Cluster, ...], claims: list[_Claim], r: Reader, *, default_pods_used: bool) -> None:
    """Report a pod or Service range that overlaps a machine, VIP or router (any cluster's), or the other range.

    A cluster's nodes route its pod range to Cilium and its Service range to kube-proxy: an address there is not
    reachable as a machine, and a rule for the range would admit it. allowOverlappingRoles does not change this.
    Other clusters' ranges may coincide (EKS-A's defaults are the same everywhere; the addresses never leave their
    cluster). A range the stack leaves to EKS-A's default is a guess: it is checked only where it becomes rules (the
    pod range, on a platform whose firewall sees pods: ``default_pods_used``), so a guess never refuses a stack it
    does not affect. Machine spans are sorted once; each range finds the spans that start inside it (bisect) and
    the one reaching furthest among those that start before it (a running maximum), O((m + c) log m)."""
    spans = sorted((n.version, *span(n), i, n) for i, c in enumerate(claims) if not anywhere_families(c.networks) for n in c.networks)
    starts = [(v, lo) for v, lo, _hi, _i, _n in spans]
    furthest: list[int] = []  # furthest[k]: index in spans of the span reaching furthest among spans[:k + 1] of its family
    for k, (v, _lo, hi, _i, _n) in enumerate(spans):
        prev = furthest[-1] if furthest else None
        keep = prev is not None and spans[prev][0] == v and spans[prev][2] >= hi
        furthest.append(prev if keep and prev is not None else k)
    for c in clusters:
        ranges = (("pods", c.pods), ("services", c.services))
        for kind, net in ranges:
            if kind in c.defaulted and not (kind == "pods" and default_pods_used):
                continue
            (lo, hi), v = span(net), net.version
            first = bisect.bisect_left(starts, (v, lo))
            last = bisect.bisect_right(starts, (v, hi))
            hits = [spans[k] for k in range(first, min(last, first + MAX_NAMED_OVERLAPS))]
            total = last - first
            if first > 0 and spans[furthest[first - 1]][0] == v and spans[furthest[first - 1]][2] >= lo:
                hits.insert(0, spans[furthest[first - 1]])  # a span that starts before the range and reaches into it
                total += 1
            named = [f"{other} of {claims[i].key} ({_what(claims[i])})" for _v, _lo, _hi, i, other in hits[:MAX_NAMED_OVERLAPS]]
            more = total - len(named)
            for other_kind, other_net in ranges:
                both_given = not c.defaulted
                if other_kind != kind and kind == "pods" and both_given and other_net.overlaps(net):  # type: ignore[arg-type]
                    named.append(f"{other_net} of {key_join(key_join(c.key, 'clusterNetwork'), other_kind)} ({c.name} {other_kind})")
            if not named:
                continue
            ckey = key_join(key_join(c.key, "clusterNetwork"), kind)
            default = " (EKS-A's default: the stack does not set it)" if kind in c.defaulted else ""
            r.problem(
                ckey,
                f"{net}{default} overlaps "
                + "; ".join(named)
                + (f"; and {more} more" if more > 0 else "")
                + f": the cluster's nodes route its {kind} inside the cluster, so these addresses cannot be machines",
                f"set {ckey} to the cluster spec's spec.clusterNetwork.{kind}.cidrBlocks[0], a range that holds no machine, "
                "VIP or router (docs/configuration.md, clusterNetwork)",
            )
