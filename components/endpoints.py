"""The names of endpoints: the node roles of a cluster and the peers the ports table names.

A flow goes from one endpoint to another. ``flows.endpoint_addresses`` says which addresses an endpoint
stands for in a cluster; the catalog's ``sources``/``destinations`` words are these names plus a few words
that stand for several roles (``nodes``, ``machines``, ``self``).

Two kinds of endpoint are not machines a network firewall sees:
- ``pods-on-node`` (``NODE_LOCAL``): a cluster's pods reaching a host-network service of the node they run on.
  Such a packet never leaves the node, so only a firewall on the node itself (bare metal's nftables) sees it,
  with the pod's address as source; the catalog word expands only on platforms whose ``Platform.host_firewall``
  says so (components/flows.py). Pods reaching *another* node arrive masqueraded to their node's address.
- ``routers``: the BGP routers a cluster's BGP add-ons peer with (``clusters[].routers``).
"""

from __future__ import annotations

from typing import Final, Literal

# Node roles, as EKS Anywhere names its machine configs. `etcd` is the control plane's machines unless the
# cluster uses external etcd.
CONTROL_PLANE: Final = "control-plane"
ETCD: Final = "etcd"
WORKER: Final = "worker"
Role = Literal["control-plane", "etcd", "worker"]
NODE_ROLES: tuple[Role, ...] = (CONTROL_PLANE, ETCD, WORKER)

# Everything that is not a node of the cluster itself.
ADMIN_MACHINE: Final = "admin-machine"
MANAGEMENT_CLUSTER: Final = "management-cluster"  # the nodes of the cluster that manages this one
CONTROL_PLANE_VIP: Final = "control-plane-vip"  # kube-vip's address, held by a control-plane node
TINKERBELL_VIP: Final = "tinkerbell-vip"  # held by the management cluster's control plane
BMC: Final = "bmc"
VCENTER: Final = "vcenter"
PRISM_CENTRAL: Final = "prism-central"
SNOW_DEVICE: Final = "snow-device"
JENKINS: Final = "jenkins"
API_CLIENTS: Final = "api-clients"
SSH_CLIENTS: Final = "ssh-clients"
NODEPORT_CLIENTS: Final = "nodeport-clients"
JENKINS_CLIENTS: Final = "jenkins-clients"
ROUTERS: Final = "routers"  # the BGP routers of a cluster (clusters[].routers), peers of MetalLB/kube-vip in BGP mode
DHCP_CLIENTS: Final = "dhcp-clients"  # a machine asking for its first lease: it has no address yet
API_LOAD_BALANCER: Final = "api-load-balancer"  # derived: only when controlPlane.loadBalancer is set

PEERS: tuple[str, ...] = (
    ADMIN_MACHINE, MANAGEMENT_CLUSTER, CONTROL_PLANE_VIP, TINKERBELL_VIP, BMC, VCENTER, PRISM_CENTRAL,
    SNOW_DEVICE, JENKINS, API_CLIENTS, SSH_CLIENTS, NODEPORT_CLIENTS, JENKINS_CLIENTS, DHCP_CLIENTS, ROUTERS,
)  # fmt: skip
# A cluster's pods reaching a host-network service on their own node (the cluster's clusterNetwork.pods range).
PODS_ON_NODE: Final = "pods-on-node"
# Sources whose packets never leave the machine they reach: only a firewall on that machine sees them.
NODE_LOCAL: tuple[str, ...] = (PODS_ON_NODE,)
# Address ranges people list as "who may connect": their members are not machines we filter.
CLIENT_RANGES: tuple[str, ...] = (API_CLIENTS, SSH_CLIENTS, NODEPORT_CLIENTS, JENKINS_CLIENTS)
ENDPOINTS: tuple[str, ...] = (*NODE_ROLES, *PEERS, *NODE_LOCAL, API_LOAD_BALANCER)
