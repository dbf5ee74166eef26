"""``eksa-firewall probe --stack NAME --from ROLE``: can this machine reach every port ROLE must reach?

Run it on a machine of ROLE (an admin machine, a control-plane node, a worker, a client...). The probes
themselves (TCP connect, UDP requests, ICMP echo; timeouts, the deadline, parallelism) are in
``components.baremetal.probe``, whose docstring explains each verdict. Before probing, this command checks
that ``--source`` is an address of this machine and that the machine has a route to each destination: a
destination without a route is reported as a failure without a probe.

Exit status: 0 when nothing failed, 1 when a required port is blocked, unroutable or not probed before the
deadline, 2 on a usage or configuration error.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import json
import os
import socket

from ..render import table
from .common import EXIT_FAILED, EXIT_OK, CliError, add_stack_arguments, load_stack_args


def _check_source(source: str) -> str:
    """``--source``: an IP address this machine has (binding to it is what every probe does first)."""
    try:
        ip = ipaddress.ip_address(source.strip())
    except ValueError:
        raise CliError(f"--source {source}: not an IP address; give one of this machine's addresses") from None
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.bind((str(ip), 0))
    except OSError as exc:
        why = "not an address of this machine" if exc.errno == errno.EADDRNOTAVAIL else os.strerror(exc.errno or 0) or str(exc)
        raise CliError(f"--source {source}: {why}; give one of this machine's addresses (ip -brief address), or leave it out") from None
    return str(ip)


def _route_source(address: str, source: str | None) -> str | None:
    """The address this machine sends from toward ``address`` (None: no route); no packet is sent."""
    if source is None:
        from ..baremetal import probe as probes

        return probes._local_source(address)  # looked up here, so tests can stand in for the network
    family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            if source is not None:
                s.bind((source, 0))
            s.connect((address, 9))
            return str(s.getsockname()[0])
    except OSError:
        return None


def run(args: argparse.Namespace) -> int:
    from ..baremetal.probe import UNPROBEABLE_SOURCES, Result, _role_addresses, run_probes, targets

    source = _check_source(args.source) if args.source is not None else None
    stack = load_stack_args(args)
    topology, flows = stack.topology, stack.flows
    sources = sorted({f.source for f in flows.flows} - set(UNPROBEABLE_SOURCES))
    if args.role not in sources:
        raise CliError(f"--from {args.role}: no required flow starts there; choose one of {', '.join(sources)}")
    if args.cluster is not None and args.cluster not in {c.name for c in topology.clusters}:
        raise CliError(f"--cluster {args.cluster}: no such cluster in this stack ({', '.join(c.name for c in topology.clusters)})")
    items, notes = targets(topology, flows, args.role, args.cluster)
    role_nets = _role_addresses(topology, flows, args.role, args.cluster)
    routes = {a: _route_source(a, source) for a in sorted({t.address for t in items})}
    warnings: list[str] = []
    local = {a for a in routes.values() if a is not None}
    for a in sorted(local):
        ip = ipaddress.ip_address(a)
        if not any(ip in n for n in role_nets):
            warnings.append(f"this machine sends from {a}, which is not an address of {args.role}: the results say what {a} may reach")
    unroutable = [t for t in items if routes[t.address] is None]
    if unroutable:
        warnings.append(f"no route from this machine to {len({t.address for t in unroutable})} destination address(es): check its routes")
    skipped = [t for t in items if t.address in local]
    probed = [t for t in items if t.address not in local and routes[t.address] is not None]
    results = run_probes(probed, timeout=args.timeout, deadline=args.deadline, parallel=args.parallel, source=source)
    results += [Result(target=t, status="no route from this machine: not probed", ok=False) for t in unroutable]
    results += [Result(target=t, status="skipped: this machine itself", ok=None) for t in skipped]
    failed = [r for r in results if r.ok is False]
    if args.format == "json":
        doc = {
            "role": args.role,
            "ok": not failed,
            "warnings": warnings,
            "notes": notes,
            "results": [
                {
                    "cluster": r.target.cluster,
                    "destination": r.target.destination,
                    "address": r.target.address,
                    "protocol": r.target.protocol,
                    "port": r.target.port,
                    "status": r.status,
                    "ok": r.ok,
                    "rows": list(r.target.rows),
                }
                for r in results
            ],
        }
        print(json.dumps(doc, indent=2))
    else:
        for w in warnings:
            print(f"warning: {w}")
        rows = [
            (
                r.target.cluster,
                r.target.destination,
                r.target.address,
                r.target.protocol,
                (f"type {r.target.port}" if r.target.protocol == "icmp" else str(r.target.port)),
                {True: "ok", False: "FAIL", None: "-"}[r.ok],
                r.status,
                ", ".join(r.target.rows),
            )
            for r in results
        ]
        print(table(("cluster", "to", "address", "proto", "port", "result", "status", "catalog rows"), rows))
        for n in notes:
            print(f"note: {n}")
        verdict = f"FAILED: {len(failed)} required port(s) blocked" if failed else "OK: every required port that can be probed is reachable"
        print(f"{verdict} ({len(results)} probes from {args.role})")
    return EXIT_FAILED if failed else EXIT_OK


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 600:
        raise argparse.ArgumentTypeError("must be between 0 and 600 seconds")
    return value


def _parallel(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 1024:
        raise argparse.ArgumentTypeError("must be a whole number from 1 to 1024")
    return int(text)


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "probe",
        help="bare metal: from this machine, check that every port a role must reach is reachable",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_stack_arguments(p)
    p.add_argument(
        "--from", dest="role", required=True, help="the role this machine plays: admin-machine, control-plane, worker, etcd, ..."
    )
    p.add_argument("--cluster", help="only this cluster's flows")
    p.add_argument("--source", help="send from this local address (default: the kernel's choice)")
    p.add_argument("--timeout", type=_positive, default=2.0, help="seconds per probe (default 2)")
    p.add_argument("--deadline", type=_positive, default=60.0, help="seconds for the whole run (default 60)")
    p.add_argument("--parallel", type=_parallel, default=16, help="probes in flight at once (default 16)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=run)
