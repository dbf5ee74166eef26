"""``eksa-firewall probe --stack NAME --from ROLE``: from this machine, is everything ROLE must reach reachable?

Any platform. Run it on a machine of ROLE (a node of a cluster, the admin machine, Jenkins, a client...) after
`pulumi up`: every flow the role originates (a node of a managing cluster also opens the management-cluster flows
of the clusters it manages) is checked at each destination address, both ends of every port range: TCP connect,
UDP, ICMP echo. Destinations given as a range are listed as not probed unless --target names machines inside.
Verdicts: reachable (TCP open or refused, UDP answer or ICMP port unreachable, echo reply); blocked (silence, a
reject); unverified (UDP silence where the service never answers a stray datagram); skipped (this machine
itself); no-route, deadline, error. components/probe.py explains each; the platform guides say what a verdict
proves on each platform ("Checking after pulumi up").

Without --cluster, the clusters are those where ROLE's addresses hold this machine's address. JSON
(--format json) is the eksa-firewall/probe/v1 report (docs/cli.md). Exit status: 0 when no check failed, 1 when
one did (blocked, no route, not probed before the deadline; with --strict also unverified and not probed), 2 on
a usage or configuration error.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from ..render import table, terminal_width
from .common import EXIT_FAILED, EXIT_OK, add_stack_arguments, load_stack_args, stack_label, write_output

if TYPE_CHECKING:
    from ..probe import Outcome, Run

SHOW_FAILED = 10  # the verdict line names at most this many failed checks


def run(args: argparse.Namespace) -> int:
    from .. import probe
    from ..platform import get_platform

    source = probe.local_source(args.source) if args.source is not None else None
    targets = [probe.parse_target(t) for t in args.target]
    stack = load_stack_args(args)
    topology = stack.topology
    platform = get_platform(topology.platform).module("probe")
    result = probe.run(
        topology,
        stack.flows,
        args.role,
        cluster=args.cluster,
        source=source,
        targets=targets,
        udp_requests=platform.UDP_REQUESTS,
        timeout=args.timeout,
        deadline=args.deadline,
        parallel=args.parallel,
        route=probe.route_source,  # looked up here, so that tests can stand in for the network
        prober=probe.probe_check,
    )
    flow_clusters = sorted({r.check.flow.cluster for r in result.results} | {u.flow.cluster for u in result.unprobed})
    caveats = tuple(platform.caveats(topology, flow_clusters))
    failed = result.failed(strict=args.strict)
    if args.format == "json":
        doc = probe.report(result, stack=stack_label(args), platform=topology.platform, strict=args.strict, caveats=caveats)
        write_output(args.output, json.dumps(doc, indent=2) + "\n")
    else:
        write_output(args.output, _table(result, caveats, stack_label(args), topology.platform, strict=args.strict))
    return EXIT_OK if result.ok(strict=args.strict) and not failed else EXIT_FAILED


def _table(result: Run, caveats: tuple[str, ...], stack: str, platform: str, *, strict: bool) -> str:
    from ..probe import summary

    lines = [
        f"probe from {result.role} (cluster {', '.join(result.clusters)}) on {stack} ({platform}), "
        f"sending from {', '.join(result.sent_from) or 'nowhere'}"
    ]
    lines += [f"warning: {w}" for w in (*result.warnings, *caveats)]
    groups: dict[tuple[str, str], list[tuple[str, ...]]] = {}
    for r in result.results:
        f = r.check.flow
        check = f"{f.protocol} {r.check.port}"  # ICMP: the type, as the plan writes it
        groups.setdefault((f.cluster, f.source), []).append(
            (f.destination, r.check.address, check, _cell(r.outcome), ", ".join(r.check.rows))
        )
    for (cluster, source), rows in groups.items():
        lines.append(f"\ncluster {cluster}, from {source}:")
        lines.append(table(("to", "address", "check", "result", "catalog rows"), rows, width=terminal_width()))
    if groups:
        lines.append("")
    ranges: dict[tuple[str, str, str, str], list[str]] = {}
    for u in result.unprobed:
        f = u.flow
        ranges.setdefault((f.cluster, f.source, f.destination, str(u.network)), []).append(f"{f.protocol} {f.ports_text}")
    for (cluster, source, destination, network), ports in ranges.items():
        lines.append(
            f"not probed: {cluster} {source} -> {destination} {network} ({', '.join(ports)}): a range; "
            f"name its machines with --target {cluster}/{destination}=ADDRESS[,ADDRESS...]"
        )
    counts = ", ".join(f"{n} {v.replace('_', ' ')}" for v, n in summary(result).items() if n)
    failed = result.failed(strict=strict)
    if failed or not result.ok(strict=strict):
        named = [
            f"{r.check.flow.cluster} {r.check.flow.source} -> {r.check.flow.destination} {r.check.address} "
            f"{r.check.flow.protocol} {r.check.port} ({r.outcome.verdict})"
            for r in failed[:SHOW_FAILED]
        ]
        more = f"; and {len(failed) - SHOW_FAILED} more" if len(failed) > SHOW_FAILED else ""
        extra = " (strict: ranges not probed count)" if strict and result.unprobed else ""
        lines.append(f"FAILED: {len(failed)} check(s) failed{extra}: {'; '.join(named)}{more} [{counts}]")
    else:
        lines.append(f"OK: every check that could be made is reachable [{counts}]")
    return "\n".join(lines) + "\n"


def _cell(outcome: Outcome) -> str:
    """The verdict (in capitals when it fails), with what was seen when that says more: ``BLOCKED (no answer ...)``."""
    verdict = outcome.verdict.upper() if outcome.ok is False else outcome.verdict
    detail = outcome.detail
    if detail in ("open", "answered", "echo reply", "skipped: this machine itself"):
        return verdict
    if detail == "refused: reachable, nothing listening":
        return f"{verdict} (refused: nothing listens)"
    if detail.startswith(outcome.verdict):
        detail = detail[len(outcome.verdict) :].strip(" ()")
    return f"{verdict} ({detail})" if detail else verdict


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
        help="any platform: from this machine, check that everything a role must reach is reachable",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_stack_arguments(p)
    p.add_argument(
        "--from",
        dest="role",
        required=True,
        help="the role this machine plays: control-plane, worker, etcd, admin-machine, jenkins, api-clients, ...",
    )
    p.add_argument("--cluster", help="only this cluster's flows (default: the clusters whose ROLE addresses hold this machine)")
    p.add_argument("--source", help="send from this local address (default: the kernel's choice)")
    p.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="[CLUSTER/]ENDPOINT=ADDR[,ADDR...]",
        help="machines inside an endpoint given as a range (repeatable), e.g. worker=10.21.1.7,10.21.1.8",
    )
    p.add_argument("--timeout", type=_positive, default=2.0, help="seconds per probe (default 2)")
    p.add_argument("--deadline", type=_positive, default=60.0, help="seconds for the whole run (default 60)")
    p.add_argument("--parallel", type=_parallel, default=16, help="probes in flight at once (default 16)")
    p.add_argument("--strict", action="store_true", help="unverified checks and ranges not probed count as failures")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("-o", "--output", help="write the report to this file instead of standard output")
    p.set_defaults(func=run)
