"""Does a plan hold only what the planner makes, in each platform's own grammar? ``problems(planned)`` says what not.

One entry point for every platform, used by the property test (tests/hardening/test_fields.py) and the corpus
run through the command line (tests/hardening/test_corpus.py). Each check reads the registrations as the real
program made them under the mock engine:

- every platform: ``verify`` (the objects allow exactly the required accesses: nothing the flows do not ask for)
  and no control character in any text a registration carries, except the line breaks and tabs of the
  nftables scripts and the commands that carry them, and of a PEM certificate;
- bare metal: every ruleset passes ``nft -c -f`` (in a network namespace of its own, ``unshare -n``, so the
  check never sees or touches the host's tables), is printable ASCII, and replayed by
  ``components/baremetal/interpret.py`` leaves exactly one table, the configured ``inet <table>``, with one
  chain, ``input``, whose every rule the interpreter models; the commands that write or load it are exactly
  the commands the component builds (one ``mkdir``/``cat`` pair, the apply script), arguments quoted;
- vSphere: every NSX body fits the vendor's model (tests/vsphere/nsx_schema.py, as PATCH and as PUT); the vCenter
  tag category and tags hold one line of printable text (the vSphere Automation API documents no other limit,
  see components/vsphere/settings.py) and the tags are exactly ``<cluster>-<role>`` per role;
- AWS (snow and region): every EC2 call pulumi-aws would make fits botocore's EC2 model and EC2's documented
  text rules (tests/contract/ec2.py); on a device, only calls Snow's endpoint supports;
- Nutanix: every object builds as the v4 model (Nutanix's own SDK classes: tests/contract/nutanix_v4.py).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
import unicodedata
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from components.baremetal.interpret import CARRIER_TYPES, RULESET_TYPE, InterpretError, parse_ruleset, ruleset_accesses
from components.baremetal.settings import parse_settings as baremetal_settings
from components.engine import Registration
from components.verify import verify
from tests.helpers import Planned

NSX_TYPES = {
    "pulumi-python:dynamic/nsx:Group": "Group",
    "pulumi-python:dynamic/nsx:Service": "Service",
    "pulumi-python:dynamic/nsx:SecurityPolicy": "SecurityPolicy",
}
TAG_CATEGORY = "vsphere:index/tagCategory:TagCategory"
TAG = "vsphere:index/tag:Tag"
NFT_TIMEOUT = 30  # seconds, per ruleset
# Inputs whose text is a script or a certificate: line breaks and tabs are theirs to carry.
MULTILINE_INPUTS = frozenset({"ruleset", "stdin", "create", "update", "delete", "customCaBundle", "caBundle"})


def problems(planned: Planned) -> list[str]:
    """Everything in ``planned`` that is not the planner's own, well-formed output (empty: all is well)."""
    out = list(_control_characters(planned.run.resources))
    report = verify(planned.topology, planned.flows, planned.run.resources)
    if not report.ok:
        out.append(
            f"verify: {len(report.missing)} accesses missing, {len(report.excess)} in excess, e.g. {(report.missing + report.excess)[:3]}"
        )
    check = {"baremetal": _baremetal, "vsphere": _vsphere, "snow": _aws, "nutanix": _nutanix}[planned.topology.platform]
    out += check(planned)
    return out


# --- every platform: text ---------------------------------------------------------------------------------


def _strings(value: Any, path: str, leaf: str) -> Iterator[tuple[str, str, str]]:
    """(path, name of the innermost key, text) of every string in ``value``, mapping keys included."""
    if isinstance(value, str):
        yield path, leaf, value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield f"{path}.{k}", "", str(k)
            yield from _strings(v, f"{path}.{k}", str(k))
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from _strings(v, f"{path}[{i}]", leaf)


def _control_characters(resources: Iterable[Registration]) -> Iterator[str]:
    for r in resources:
        for path, leaf, text in _strings(dict(r.inputs), f"{r.type} {r.name}", ""):
            allowed = "\n\t" if leaf in MULTILINE_INPUTS else ""
            bad = sorted({c for c in text if unicodedata.category(c).startswith("C") and c not in allowed})
            if bad:
                yield f"{path}: control or format characters {[hex(ord(c)) for c in bad]} in {text[:80]!r}"


# --- bare metal -----------------------------------------------------------------------------------------


def nft_check(texts: list[str]) -> list[subprocess.CompletedProcess[str] | None]:
    """``nft -c -f`` on each text, in one fresh network namespace (``unshare -n``): parsed and validated by the
    kernel, never committed, and blind to the host's own tables (a ruleset that only checks because of them would
    not load on a clean host). None for a text that passes; else the failed run (its stderr says why)."""
    if os.geteuid() != 0 or shutil.which("nft") is None or shutil.which("unshare") is None:
        raise AssertionError("the nftables check needs root, nft (apt-get install nftables) and unshare (util-linux); CI runs as root")
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i, text in enumerate(texts):
            path = Path(tmp) / f"{i}.nft"
            path.write_text(text, encoding="utf-8")
            files.append(str(path))
        # One namespace for all: each file checked on its own, its messages and status framed by a marker that no
        # ruleset can hold (nft quotes the offending line of a ruleset in its messages).
        marker = f"@@{uuid.uuid4().hex} "
        script = f'for f in "$@"; do echo "{marker}$f"; nft -c -f "$f" 2>&1; echo "{marker}status $?"; done'
        proc = subprocess.run(
            ["unshare", "-n", "sh", "-c", script, "sh", *files], capture_output=True, text=True, timeout=NFT_TIMEOUT, check=False
        )
    if proc.returncode != 0:
        raise AssertionError(f"unshare -n failed: {proc.stderr.strip()}")
    out: list[subprocess.CompletedProcess[str] | None] = []
    messages = ""
    for chunk in proc.stdout.split(marker)[1:]:
        if chunk.startswith("status "):
            status = int(chunk.split()[1])
            out.append(None if status == 0 else subprocess.CompletedProcess(["nft", "-c"], status, "", messages))
        else:
            messages = chunk.split("\n", 1)[1] if "\n" in chunk else ""
    assert len(out) == len(texts), proc.stdout[-2000:]
    return out


def _baremetal(planned: Planned) -> list[str]:
    from components.baremetal.component import apply_script, remove_script
    from components.baremetal.hosts import host_roles

    settings = baremetal_settings(planned.topology)
    hosts = {h.key: h for h in host_roles(planned.topology)}
    resources = planned.run.resources
    rulesets = {r.urn: r for r in resources if r.type == RULESET_TYPE}
    out: list[str] = []
    if set(hosts) != {str(r.inputs.get("host")) for r in rulesets.values()}:
        out.append(f"rulesets for {sorted(str(r.inputs.get('host')) for r in rulesets.values())}, hosts are {sorted(hosts)}")
    checked = nft_check([str(r.inputs.get("ruleset", "")) for r in rulesets.values()])
    for r, failed in zip(rulesets.values(), checked, strict=True):
        text = str(r.inputs.get("ruleset", ""))
        where = f"ruleset {r.inputs.get('host')}"
        odd = sorted({c for c in text if c not in "\n\t" and not " " <= c <= "~"})
        if odd:
            out.append(f"{where}: characters outside printable ASCII: {odd[:10]}")
        if failed is not None:
            out.append(f"{where}: nft -c refuses it: {failed.stderr.strip()[:500]}")
        try:
            tables = parse_ruleset(text)
            if set(tables) != {("inet", settings.table)}:
                out.append(f"{where}: leaves tables {sorted(tables)}, expected only inet {settings.table}")
            for table in tables.values():
                if set(table.chains) != {"input"}:
                    out.append(f"{where}: chains {sorted(table.chains)} in {table.name}, expected only input")
            host = hosts.get(str(r.inputs.get("host")))
            if host is not None:
                ruleset_accesses(text, host)  # every rule is one the interpreter models (it refuses anything else)
        except InterpretError as exc:
            out.append(f"{where}: {exc}")
    for r in resources:
        if r.type not in CARRIER_TYPES:
            continue
        parent = rulesets.get(r.parent or "")
        if parent is None:
            out.append(f"{r.type} {r.name} carries no ruleset of ours")
            continue
        if r.type == "command:local:Command":
            out += _local_command(r, settings.output_dir, str(parent.inputs.get("host")))
        elif settings.apply is not None:
            expected = {"create": apply_script(settings.apply), "update": apply_script(settings.apply)}
            expected["delete"] = remove_script(settings.apply, settings.table)
            out += [f"{r.name}: {k} is not the apply script the component builds" for k, v in expected.items() if r.inputs.get(k) != v]
        else:
            out.append(f"{r.name}: a remote command although apply is off")
    return out


def _local_command(r: Registration, output_dir: str | None, host: str) -> list[str]:
    """``mkdir -p DIR && cat > FILE`` and ``rm -f FILE``: exactly these words once the shell has unquoted them."""
    if output_dir is None:
        return [f"{r.name}: a file is written although outputDir is not set"]
    file = f"{output_dir.rstrip('/')}/{host.replace('/', '-')}.nft"
    directory = file.rsplit("/", 1)[0]
    expected = {
        "create": ["mkdir", "-p", directory, "&&", "cat", ">", file],
        "update": ["mkdir", "-p", directory, "&&", "cat", ">", file],
        "delete": ["rm", "-f", file],
    }
    out = []
    for k, words in expected.items():
        try:
            got = shlex.split(str(r.inputs.get(k, "")))
        except ValueError as exc:
            out.append(f"{r.name}: {k} does not parse as a shell command ({exc})")
            continue
        if got != words:
            out.append(f"{r.name}: {k} runs {got}, expected {words}")
    return out


# --- vSphere --------------------------------------------------------------------------------------------


def _vsphere(planned: Planned) -> list[str]:
    from components.vsphere.nsx_provider import plain_numbers
    from tests.vsphere.nsx_schema import schema_errors

    out: list[str] = []
    for r in planned.run.resources:
        if r.type in NSX_TYPES:
            patch = {k: v for k, v in plain_numbers(dict(r.inputs["body"])).items() if not k.startswith("_")}
            for verb, body in (("PATCH", patch), ("PUT", {**patch, "_revision": 7})):
                out += [f"{r.name} ({verb}) {e}" for e in schema_errors(NSX_TYPES[r.type], body)]
        elif r.type in (TAG_CATEGORY, TAG):
            for field in ("name", "description"):
                text = r.inputs.get(field)
                if not isinstance(text, str) or not text.strip() or not text.isprintable():
                    out.append(f"{r.name}: {field} {text!r} is not one line of printable text")
    tags = sorted(str(r.inputs.get("name")) for r in planned.run.resources if r.type == TAG)
    if tags:
        expected = sorted(f"{c.name}-{role}" for c in planned.topology.clusters for role in c.roles)
        if tags != expected:
            out.append(f"vCenter tags {tags}, expected {expected}")
    return out


# --- AWS ------------------------------------------------------------------------------------------------


def _aws(planned: Planned) -> list[str]:
    from tests.contract.ec2 import ContractError, check_call, snow_problems
    from tests.contract.ec2_moto import endpoints_of

    out: list[str] = []
    try:
        endpoints = endpoints_of(planned)
    except ContractError as exc:
        return [str(exc)]
    for ep in endpoints:
        for call in ep.calls:
            try:
                check_call(call)
            except ContractError as exc:
                out.append(str(exc))
        if ep.snow:
            out += snow_problems(ep.calls).unsupported
    return out


# --- Nutanix --------------------------------------------------------------------------------------------


def _nutanix(planned: Planned) -> list[str]:
    from tests.contract.ec2 import ContractError
    from tests.contract.nutanix_v4 import SUPPORTED_TYPES, Builder

    builder = Builder(planned.run.resources)
    out: list[str] = []
    for r in planned.run.resources:
        if r.type in SUPPORTED_TYPES:
            try:
                builder.build(r)
            except ContractError as exc:
                out.append(str(exc))
    return out
