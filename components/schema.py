"""The config / component-args shape as TypedDicts: one shape for stack files and for reuse.

A stack file's ``eksa-firewall:<key>`` values and a component's ``args`` use the same keys, so a
configuration can move between the two unchanged (a component needs no ``platform``: its class decides it). Platform modules extend ``CommonArgs`` with their own
section (``aws``, ``vsphere``, ``nutanix``, ``baremetal``). docs/configuration.md documents every key.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict


class RoleArgs(TypedDict):
    addresses: NotRequired[list[str]]
    hardwareSelector: NotRequired[dict[str, str]]


class LoadBalancerArgs(TypedDict):
    address: str
    port: NotRequired[int]


class ControlPlaneArgs(RoleArgs):
    endpoint: str
    apiServerPort: NotRequired[int]
    loadBalancer: NotRequired[LoadBalancerArgs]


class EtcdArgs(RoleArgs):
    external: NotRequired[bool]
    clientPort: NotRequired[int]
    peerPort: NotRequired[int]


class WorkerGroupArgs(RoleArgs):
    name: str


class ClusterNetworkArgs(TypedDict):
    pods: NotRequired[str]  # one CIDR; EKS-A's default 192.168.0.0/16
    services: NotRequired[str]  # one CIDR; EKS-A's default 10.96.0.0/12


class ClusterArgs(TypedDict):
    name: str
    managedBy: NotRequired[str]
    controlPlane: ControlPlaneArgs
    etcd: NotRequired[EtcdArgs]
    workerGroups: NotRequired[list[WorkerGroupArgs]]
    clusterNetwork: NotRequired[ClusterNetworkArgs]
    addons: NotRequired[list[str]]  # components.catalog.ADDONS: metrics-server, metallb, metallb-bgp, prometheus, ...
    routers: NotRequired[list[str]]  # the BGP routers, with metallb-bgp or kube-vip-bgp


class AdminMachineArgs(TypedDict):
    addresses: list[str]


class ClientsArgs(TypedDict):
    api: NotRequired[list[str]]
    ssh: NotRequired[list[str]]
    nodePort: NotRequired[list[str]]


class JenkinsArgs(TypedDict):
    enabled: NotRequired[bool]
    address: str
    clients: list[str]


class ManagementToolsArgs(TypedDict):
    jenkins: NotRequired[JenkinsArgs]


class SnowDeviceArgs(TypedDict):
    name: str
    address: str


class BmcArgs(TypedDict):
    name: str
    address: str


class EndpointsArgs(TypedDict):
    vcenter: NotRequired[str]
    prismCentral: NotRequired[str]
    prismCentralPort: NotRequired[int]
    snowDevices: NotRequired[list[SnowDeviceArgs]]
    tinkerbellIp: NotRequired[str]
    bmcs: NotRequired[list[BmcArgs]]


class CommonArgs(TypedDict):
    platform: NotRequired[str]  # a platform component knows its own; when given, it must agree
    eksaVersion: NotRequired[str]
    adminMachine: AdminMachineArgs
    clients: NotRequired[ClientsArgs]
    allowSshFromAnywhere: NotRequired[bool]
    cilium: NotRequired[bool]
    managementTools: NotRequired[ManagementToolsArgs]
    endpoints: NotRequired[EndpointsArgs]
    hardwareCsv: NotRequired[str]
    clusters: list[ClusterArgs]
