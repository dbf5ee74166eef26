"""Hostile stack files and hardware CSVs, written as a careless user or an attacker would write them (issue 13's list).

Each ``Case`` is the raw bytes of a stack file (and of a hardware CSV for bare metal), made from one platform's base
by literal text replacements, so that the YAML itself can be hostile: duplicate keys, YAML 1.1 booleans, anchors and
aliases, tags, tabs, bytes that are not UTF-8. ``expect`` says what the command line must do with it:
``refused`` (exit 2, one error), ``accepted`` (exit 0, artefacts in the platform's grammar holding only planned rules)
or ``either`` (one of the two, each done well).

Every item of issue 13's list has cases: injection in addresses and names (1), the Internet in halves (2), the CA
bundle's text (3), overlapping roles (4), alias bombs (5), duplicate keys, ``yes``/``no``, a misspelt namespace (6),
free text too long or with line breaks for NSX, vCenter, Nutanix and AWS (7), errors that must point at the right key
(8); and wrong types, non-UTF-8 files, a top level that is a list, files that are not files.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from tests.hardening.fields import csv_rows, csv_text

Expect = Literal["refused", "accepted", "either"]
CSV_PLACEHOLDER = "@CSV@"

_COMMON = """\
  eksa-firewall:adminMachine:
    addresses: [10.20.0.10]
  eksa-firewall:clients:
    api: [10.30.0.0/16]
    ssh: [10.30.1.0/28]
    nodePort: [10.40.0.0/16]
  eksa-firewall:managementTools:
    jenkins:
      address: 10.30.3.5
      clients: [10.30.3.0/24]
  eksa-firewall:clusters:
    - name: mgmt
      controlPlane:
        endpoint: 10.21.0.10
        addresses: [10.21.0.16/28]
      workerGroups:
        - name: md-0
          addresses: [10.21.1.0/25]
    - name: prod
      managedBy: mgmt
      controlPlane:
        endpoint: 10.22.0.10
        addresses: [10.22.0.16/28]
      etcd:
        external: true
        addresses: [10.22.0.32/28]
      workerGroups:
        - name: general
          addresses: [10.22.1.0/24]
"""

BASES: dict[str, str] = {
    "vsphere": "config:\n  eksa-firewall:platform: vsphere\n  eksa-firewall:endpoints:\n    vcenter: 10.20.0.5\n"
    + _COMMON
    + """\
  eksa-firewall:vsphere:
    tags:
      category: eksa-roles
      description: EKS Anywhere node roles
    nsx:
      host: nsx.example.com
      username: svc-eksa
      nsxTagScope: eksa-role
      logLabel: eksa
      logAllowed: true
      idPrefix: eksa-dc1
      membership: {control-plane: tag, etcd: ipset, worker: tag}
""",
    "nutanix": "config:\n  eksa-firewall:platform: nutanix\n  eksa-firewall:endpoints:\n    prismCentral: 10.0.0.20\n"
    + _COMMON
    + """\
  eksa-firewall:nutanix:
    state: MONITOR
    namePrefix: eksa-
    categoryKey: EksaFirewallRole
    categories:
      prod:
        worker: {value: prod-workers}
    hitlog: true
""",
    "snow": "config:\n  eksa-firewall:platform: snow\n  eksa-firewall:endpoints:\n    snowDevices:\n"
    "      - {name: snow-a, address: 10.20.0.2}\n      - {name: snow-b, address: 10.20.0.3}\n"
    + _COMMON
    + """\
  eksa-firewall:aws:
    mode: snow
    tags:
      team: platform
    caBundle: |
      -----BEGIN CERTIFICATE-----
      MIIBszCCAVmgAwIBAgIUSnowExamplePlaceholderCertificate0wCgYIKoZIzj0EAwIw
      -----END CERTIFICATE-----
""",
    "aws-region": "config:\n  eksa-firewall:platform: snow\n  eksa-firewall:endpoints:\n    snowDevices:\n"
    "      - {name: snow-a, address: 10.20.0.2}\n"
    + _COMMON
    + """\
  eksa-firewall:aws:
    mode: region
    region: us-west-2
    vpcId: vpc-0a1b2c3d4e5f67890
    tags:
      team: platform
    groups: {nodes: false}
""",
    "baremetal": """\
config:
  eksa-firewall:platform: baremetal
  eksa-firewall:hardwareCsv: @CSV@
  eksa-firewall:adminMachine:
    addresses: [198.51.100.5]
  eksa-firewall:clients:
    api: [203.0.113.64/26]
    ssh: [203.0.113.70/32]
    nodePort: [203.0.113.64/26]
  eksa-firewall:endpoints:
    tinkerbellIp: 198.51.100.100
  eksa-firewall:clusters:
    - name: mgmt
      controlPlane:
        endpoint: 198.51.100.101
        hardwareSelector: {type: cp}
      workerGroups:
        - name: md-0
          hardwareSelector: {type: worker}
    - name: prod
      managedBy: mgmt
      controlPlane:
        endpoint: 198.51.100.151
        addresses: [198.51.100.141]
      etcd:
        external: true
        hardwareSelector: {type: etcd}
      workerGroups:
        - name: general
          addresses: [198.51.100.161, 198.51.100.162]
  eksa-firewall:baremetal:
    table: eksa_firewall
    defaultAction: reject
    outputDir: build/hardening
""",
}
PLATFORMS = tuple(BASES)


def base_csv() -> str:
    return csv_text(csv_rows())


@dataclass(frozen=True)
class Case:
    id: str
    platform: str
    stack: bytes  # the stack file; CSV_PLACEHOLDER stands for the path of ``csv``
    csv: bytes | None
    expect: Expect
    why: str  # the item of issue 13 (or the hostile shape) it stands for
    mentions: tuple[str, ...] = ()  # text the error must hold (the key to fix, as written)
    never: tuple[str, ...] = ()  # text it must not hold (an innocent key, a suggestion that is refused)


def _make(
    id: str,
    platform: str,
    why: str,
    *subs: tuple[str, str],
    expect: Expect = "refused",
    csv: str | bytes | None = None,
    append: str = "",
    stack: str | bytes | None = None,
    mentions: tuple[str, ...] = (),
    never: tuple[str, ...] = (),
) -> Case:
    if stack is None:
        text = BASES[platform]
        for old, new in subs:
            assert old in text, f"{id}: {old!r} is not in the {platform} base"
            text = text.replace(old, new, 1)
        stack = text + append
    data = stack.encode("utf-8") if isinstance(stack, str) else stack
    if csv is None and platform == "baremetal":
        csv = base_csv()
    csv_data = csv.encode("utf-8") if isinstance(csv, str) else csv
    return Case(id, platform, data, csv_data, expect, why, mentions, never)


def base_case(platform: str) -> Case:
    """The platform's base, unchanged: accepted (and the base plan ``diff`` compares each case's plan with)."""
    return _make(f"{platform}-base", platform, "base", expect="accepted")


def _csv(change: dict[int, dict[str, str]]) -> str:
    rows = csv_rows()
    for i, fields in change.items():
        rows[i].update(fields)
    return csv_text(rows)


PEM_BLOCK = """\
    caBundle: |
      -----BEGIN CERTIFICATE-----
      MIIBszCCAVmgAwIBAgIUSnowExamplePlaceholderCertificate0wCgYIKoZIzj0EAwIw
      -----END CERTIFICATE-----
"""
FLUSH_TABLE = r"\nflush ruleset\ntable inet evil { chain input { type filter hook input priority -1; policy accept; } }"
BOMB = "".join(
    [
        '  a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n',
        *(f"  a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9)),
    ]
)


def cases() -> list[Case]:
    out: list[Case] = []
    add = out.append

    # --- 1. injection in addresses and names ----------------------------------------------------------------
    for p in ("vsphere", "nutanix", "snow", "aws-region"):
        add(
            _make(
                f"{p}-zone-id-flush-in-control-plane",
                p,
                "1: zone id with a flush ruleset",
                ("[10.21.0.16/28]", f'["fe80::1%x{FLUSH_TABLE}"]'),
            )
        )
    add(
        _make(
            "vsphere-semicolon-in-worker-address",
            "vsphere",
            "1: ';' after an address",
            ("[10.21.1.0/25]", '["10.21.1.0/25; flush ruleset"]'),
        )
    )
    add(_make("nutanix-brace-in-admin-address", "nutanix", "1: '}' after an address", ("[10.20.0.10]", '["10.20.0.10 } accept"]')))
    add(_make("snow-newline-in-vip", "snow", "1: newline in the VIP", ("endpoint: 10.21.0.10", r'endpoint: "10.21.0.10\nflush ruleset"')))
    add(_make("aws-region-zone-id-admin", "aws-region", "8: a zone id in region mode names its key", ("[10.20.0.10]", "['fe80::1%eth0']")))
    add(
        _make(
            "baremetal-zone-id-flush-in-admin",
            "baremetal",
            "1: zone id with a flush ruleset",
            ("[198.51.100.5]", f'["fe80::1%x{FLUSH_TABLE}"]'),
        )
    )
    add(
        _make(
            "baremetal-zone-id-in-worker",
            "baremetal",
            "1: zone id in worker addresses",
            ("[198.51.100.161, 198.51.100.162]", "['fe80::1%eth0']"),
        )
    )
    add(
        _make(
            "baremetal-flush-in-tinkerbell-ip",
            "baremetal",
            "1: newline in the Tinkerbell VIP",
            ("tinkerbellIp: 198.51.100.100", r'tinkerbellIp: "198.51.100.100\nflush ruleset"'),
        )
    )
    add(
        _make(
            "baremetal-csv-ip-zone-flush",
            "baremetal",
            "1: the CSV ip_address column",
            csv=_csv({0: {"ip_address": f"fe80::1%x{FLUSH_TABLE}"}}),
        )
    )
    add(
        _make(
            "baremetal-csv-bmc-ip-injection",
            "baremetal",
            "1: the CSV bmc_ip column",
            csv=_csv({1: {"bmc_ip": "203.0.113.12; flush ruleset"}}),
        )
    )
    add(
        _make(
            "baremetal-csv-raw-lines",
            "baremetal",
            "1: unquoted lines of nft in the CSV",
            csv=base_csv() + "flush ruleset\ntable inet evil { chain input { policy accept; } }\n",
        )
    )
    add(
        _make(
            "baremetal-csv-hostname-newline",
            "baremetal",
            "1: a hostname with a line break and quotes",
            csv=_csv({2: {"hostname": 'w1"\nflush ruleset'}}),
        )
    )
    add(
        _make(
            "baremetal-csv-labels-injection",
            "baremetal",
            "1: labels with nft text",
            csv=_csv({0: {"labels": "type=cp\nflush ruleset"}, 1: {"labels": "type=cp}; flush"}}),
        )
    )
    add(
        _make(
            "baremetal-csv-broadcast-address",
            "baremetal",
            "1: a machine at 255.255.255.255",
            csv=_csv({2: {"ip_address": "255.255.255.255"}}),
        )
    )
    add(
        _make(
            "baremetal-cluster-name-newline",
            "baremetal",
            "1: a cluster name with nft text",
            ("- name: prod", r'- name: "prod\nflush ruleset"'),
        )
    )
    add(_make("vsphere-cluster-name-quote", "vsphere", "1: a cluster name with a quote", ("- name: prod", "- name: 'prod\"; rm -rf /'")))
    add(_make("nutanix-worker-group-brace", "nutanix", "1: a worker group name with braces", ("- name: general", "- name: 'general}{'")))
    add(
        _make(
            "baremetal-table-injection",
            "baremetal",
            "1: the nft table name",
            ("table: eksa_firewall", "table: 'eksa_firewall { } ; flush ruleset ; table inet x'"),
        )
    )
    add(
        _make(
            "baremetal-output-dir-shell",
            "baremetal",
            "1: shell in outputDir (quoted, so harmless)",
            ("outputDir: build/hardening", "outputDir: 'build/$(reboot)`id`;x'"),
            expect="accepted",
        )
    )
    add(
        _make(
            "baremetal-output-dir-newline",
            "baremetal",
            "1: a line break in outputDir",
            ("outputDir: build/hardening", r'outputDir: "build\n/etc"'),
        )
    )
    add(
        _make(
            "baremetal-apply-user-shell",
            "baremetal",
            "1: shell in the SSH user",
            ("outputDir: build/hardening", "outputDir: build/hardening\n    apply: {enabled: true, user: 'root; reboot'}"),
            ("[198.51.100.161, 198.51.100.162]", "[198.51.100.161]"),
        )
    )
    add(
        _make(
            "baremetal-apply-path-quote",
            "baremetal",
            "1: a quote in the apply path",
            ("outputDir: build/hardening", "outputDir: build/hardening\n    apply: {enabled: true, path: \"/etc/x'; reboot; '\"}"),
        )
    )
    add(
        _make(
            "baremetal-hardware-csv-nul-path", "baremetal", "1: a NUL in the CSV path", ("hardwareCsv: @CSV@", r'hardwareCsv: "@CSV@\0x"')
        )
    )

    # --- 2. the Internet in halves ------------------------------------------------------------------------------
    for p in ("vsphere", "nutanix", "snow"):
        add(
            _make(
                f"{p}-admin-in-halves-external-etcd",
                p,
                "2: admin machine 0.0.0.0/1 + 128.0.0.0/1 with external etcd",
                ("[10.20.0.10]", "[0.0.0.0/1, 128.0.0.0/1]"),
            )
        )
    add(
        _make(
            "baremetal-ssh-in-halves",
            "baremetal",
            "2: clients.ssh in two halves",
            ("ssh: [203.0.113.70/32]", "ssh: [0.0.0.0/1, 128.0.0.0/1]"),
        )
    )
    add(_make("vsphere-ssh-ipv6-halves", "vsphere", "2: clients.ssh in IPv6 halves", ("ssh: [10.30.1.0/28]", "ssh: ['::/1', '8000::/1']")))
    add(_make("nutanix-ssh-global-unicast", "nutanix", "2: clients.ssh 2000::/3", ("ssh: [10.30.1.0/28]", "ssh: ['2000::/3']")))
    add(
        _make(
            "snow-ssh-in-quarters",
            "snow",
            "2: clients.ssh in four quarters",
            ("ssh: [10.30.1.0/28]", "ssh: [0.0.0.0/2, 64.0.0.0/2, 128.0.0.0/2, 192.0.0.0/2]"),
        )
    )
    add(
        _make(
            "vsphere-managing-workers-everywhere",
            "vsphere",
            "2: the managing cluster's workers at 0.0.0.0/0 (blame the workers only)",
            ("[10.21.1.0/25]", "[0.0.0.0/0]"),
        )
    )
    add(
        _make(
            "vsphere-ssh-anywhere-allowed",
            "vsphere",
            "2: SSH from anywhere when explicitly allowed",
            ("ssh: [10.30.1.0/28]", "ssh: [0.0.0.0/0]"),
            append="  eksa-firewall:allowSshFromAnywhere: true\n",
            expect="accepted",
        )
    )

    # --- 3. the CA bundle's text --------------------------------------------------------------------------------
    add(_make("snow-ca-bundle-nul", "snow", "3: a NUL in the CA bundle path", (PEM_BLOCK, r'    caBundle: "certs/\0ca.pem"' + "\n")))
    add(
        _make(
            "snow-ca-bundle-escape-in-pem",
            "snow",
            "3: an escape character in the PEM text",
            (PEM_BLOCK, r'    caBundle: "-----BEGIN CERTIFICATE-----\nMIIB\x1b[2J\n-----END CERTIFICATE-----\n"' + "\n"),
        )
    )
    add(
        _make(
            "snow-ca-bundle-raw-escape",
            "snow",
            "3: a raw control character in the YAML",
            ("      MIIBszCCAVmgAwIBAgIUSnow", "      MIIBszCCAVmgAwIBAgIUSnow\x1b[2J"),
        )
    )

    # --- 4. overlapping roles -----------------------------------------------------------------------------------
    add(_make("vsphere-cp-inside-workers", "vsphere", "4: a control plane inside a worker range", ("[10.22.0.16/28]", "[10.22.1.16/28]")))
    add(_make("nutanix-vip-inside-workers", "nutanix", "4: a VIP inside a worker range", ("endpoint: 10.22.0.10", "endpoint: 10.22.1.10")))
    add(
        _make("snow-two-clusters-same-addresses", "snow", "4: two clusters with the same addresses", ("[10.22.0.16/28]", "[10.21.0.16/28]"))
    )
    add(
        _make(
            "baremetal-admin-inside-control-plane", "baremetal", "4: the admin machine is a worker", ("[198.51.100.5]", "[198.51.100.161]")
        )
    )
    add(
        _make(
            "vsphere-overlap-allowed",
            "vsphere",
            "4: overlaps allowed explicitly",
            ("[10.22.0.16/28]", "[10.22.1.16/28]"),
            append="  eksa-firewall:allowOverlappingRoles: true\n",
            expect="accepted",
        )
    )

    # --- 5. alias bombs and deep nesting ----------------------------------------------------------------------------
    add(
        _make(
            "vsphere-alias-bomb-other-namespace",
            "vsphere",
            "5: a billion laughs under aws:",
            append="  aws:defaultTags:\n" + BOMB.replace("  a", "    a"),
        )
    )
    add(
        _make(
            "nutanix-alias-bomb-own-key",
            "nutanix",
            "5: a billion laughs under the project's own key",
            append="  eksa-firewall:extra:\n" + BOMB.replace("  a", "    a"),
        )
    )
    add(_make("snow-deep-nesting", "snow", "5: 400 levels of nesting", append="  eksa-firewall:deep: " + "[" * 400 + "]" * 400 + "\n"))

    # --- 6. duplicate keys, yes/no, a misspelt namespace ---------------------------------------------------------
    add(
        _make(
            "vsphere-duplicate-top-key",
            "vsphere",
            "6: a config key written twice",
            append="  eksa-firewall:clients:\n    api: [0.0.0.0/0]\n",
        )
    )
    add(
        _make(
            "baremetal-duplicate-name",
            "baremetal",
            "6: a cluster's name written twice",
            ("    - name: prod\n", "    - name: prod\n      name: mgmt\n"),
        )
    )
    add(
        _make(
            "nutanix-duplicate-keys-several",
            "nutanix",
            "6: several keys written twice",
            ("    state: MONITOR\n", "    state: MONITOR\n    state: ENFORCE\n    hitlog: false\n"),
        )
    )
    add(_make("snow-yes-for-external-etcd", "snow", "6: yes read as YAML 1.1 would", ("external: true", "external: yes")))
    add(_make("vsphere-on-for-cilium", "vsphere", "6: on/off booleans", append="  eksa-firewall:cilium: off\n"))
    add(_make("nutanix-no-for-allow-overlap", "nutanix", "6: no", append="  eksa-firewall:allowOverlappingRoles: no\n"))
    add(_make("vsphere-misspelt-namespace", "vsphere", "6: eksa-firewal:clients", ("  eksa-firewall:clients:", "  eksa-firewal:clients:")))
    add(
        _make(
            "baremetal-misspelt-namespace-twice",
            "baremetal",
            "6: two misspelt keys",
            ("  eksa-firewall:clients:", "  eksafirewall:clients:"),
            ("  eksa-firewall:endpoints:", "  eksa-firewal:endpoints:"),
        )
    )
    add(
        _make(
            "snow-other-namespace-is-fine",
            "snow",
            "6: another namespace is left alone",
            append="  aws:region: us-west-2\n  mycompany:clients: [whatever]\n",
            expect="accepted",
        )
    )

    # --- 7. free text too long or with line breaks --------------------------------------------------------------
    add(
        _make(
            "vsphere-nsx-tag-scope-too-long",
            "vsphere",
            "7: NSX tag scope over 128",
            ("nsxTagScope: eksa-role", "nsxTagScope: " + "s" * 129),
        )
    )
    add(
        _make(
            "vsphere-nsx-tag-scope-newline",
            "vsphere",
            "7: NSX tag scope with a line break",
            ("nsxTagScope: eksa-role", r'nsxTagScope: "eksa\nrole"'),
        )
    )
    add(_make("vsphere-log-label-too-long", "vsphere", "7: a rule tag over 32", ("logLabel: eksa", "logLabel: " + "l" * 33)))
    add(
        _make(
            "vsphere-log-label-separator",
            "vsphere",
            "7: a Unicode line separator in the log label",
            ("logLabel: eksa", 'logLabel: "eksa\\u2028flush"'),
        )
    )
    add(
        _make(
            "vsphere-tag-category-newline",
            "vsphere",
            "7: a vCenter tag category with a line break",
            ("category: eksa-roles", r'category: "eksa\nroles"'),
        )
    )
    add(
        _make(
            "vsphere-tag-description-rtl",
            "vsphere",
            "7: a direction override in the vCenter description",
            ("description: EKS Anywhere node roles", 'description: "roles \\u202egnp.exe"'),
        )
    )
    add(
        _make(
            "vsphere-tag-description-unicode",
            "vsphere",
            "7: plain Unicode in the description is fine",
            ("description: EKS Anywhere node roles", "description: Rôles des nœuds ✓"),
            expect="accepted",
        )
    )
    add(
        _make(
            "vsphere-nsx-username-newline",
            "vsphere",
            "7: an NSX user name with a line break",
            ("username: svc-eksa", r'username: "svc\r\nX-Injected: 1"'),
        )
    )
    add(
        _make(
            "nutanix-category-key-quotes",
            "nutanix",
            "7: a Nutanix category key with quotes",
            ("categoryKey: EksaFirewallRole", "categoryKey: 'Eksa\"Role'"),
        )
    )
    add(
        _make(
            "nutanix-category-value-newline",
            "nutanix",
            "7: a Nutanix category value with a line break",
            ("worker: {value: prod-workers}", r'worker: {value: "prod\nworkers"}'),
        )
    )
    add(
        _make(
            "nutanix-long-cluster-name",
            "nutanix",
            "7: names longer than Prism Central allows",
            ("- name: prod\n", "- name: " + "p" * 40 + "\n"),
            ("    categories:\n      prod:\n        worker: {value: prod-workers}\n", ""),
        )
    )
    add(_make("snow-tag-value-too-long", "snow", "7: an AWS tag value over 256", ("team: platform", "team: " + "t" * 257)))
    add(
        _make("aws-region-tag-key-newline", "aws-region", "7: an AWS tag key with a line break", ("team: platform", '"team\\nx": platform'))
    )
    add(
        _make(
            "aws-region-profile-newline",
            "aws-region",
            "7: an AWS profile with a line break",
            ("region: us-west-2", 'region: us-west-2\n    profile: "prod\\n[default]"'),
        )
    )
    add(_make("snow-name-prefix-sg", "snow", "7: a group name prefix EC2 refuses", ("mode: snow", "mode: snow\n    namePrefix: sg-evil")))

    # --- 8. errors that point at the right place -------------------------------------------------------------------
    add(
        _make(
            "vsphere-second-ssh-entry-bad",
            "vsphere",
            "8: the second entry written is the bad one",
            ("ssh: [10.30.1.0/28]", "ssh: [10.30.1.0/28, 10.30.2.1/24]"),
        )
    )
    add(
        _make(
            "nutanix-misspelt-platform", "nutanix", "8: a misspelt platform gives one problem", ("platform: nutanix", "platform: nutanics")
        )
    )
    add(
        _make(
            "vsphere-nsx-category-typo",
            "vsphere",
            "8: an NSX category typo never suggests Ethernet",
            ("host: nsx.example.com", "host: nsx.example.com\n      category: Ethernt"),
        )
    )

    # --- wrong types ----------------------------------------------------------------------------------------------
    add(
        _make(
            "vsphere-clusters-is-text",
            "vsphere",
            "types: clusters as text",
            stack="config:\n  eksa-firewall:platform: vsphere\n  eksa-firewall:clusters: mgmt\n",
        )
    )
    add(_make("nutanix-addresses-is-text", "nutanix", "types: addresses as one string", ("[10.21.0.16/28]", "10.21.0.16/28")))
    add(
        _make(
            "snow-port-is-text",
            "snow",
            "types: a port as text",
            ("addresses: [10.22.0.16/28]", "addresses: [10.22.0.16/28]\n        apiServerPort: https"),
        )
    )
    add(
        _make(
            "baremetal-port-too-large",
            "baremetal",
            "types: a port out of range",
            ("endpoint: 198.51.100.151", "endpoint: 198.51.100.151\n        loadBalancer: {address: 198.51.100.200, port: 70000}"),
        )
    )
    add(_make("vsphere-platform-is-list", "vsphere", "types: platform as a list", ("platform: vsphere", "platform: [vsphere]")))
    add(_make("aws-region-version-is-float", "aws-region", "types: eksaVersion as a number", append="  eksa-firewall:eksaVersion: 0.24\n"))
    add(
        _make(
            "nutanix-nsx-section-is-true",
            "nutanix",
            "types: a section that is not a mapping",
            ("  eksa-firewall:nutanix:\n", "  eksa-firewall:nutanix: true\n  eksa-firewall:unused:\n"),
        )
    )
    add(_make("snow-key-is-a-number", "snow", "types: a key that is a number", append="  5: five\n"))
    add(
        _make(
            "vsphere-python-tag",
            "vsphere",
            "types: a Python tag",
            append="  eksa-firewall:cilium: !!python/object/apply:os.system ['reboot']\n",
        )
    )
    add(_make("baremetal-plain-secret", "baremetal", "types: a secret in plain text", append="  eksa-firewall:sshPrivateKey: hunter2\n"))
    add(
        _make(
            "vsphere-secret-placeholder",
            "vsphere",
            "types: a secret as the CLI writes it",
            append="  eksa-firewall:nsxPassword:\n    secure: AAABAJxVm2x1dW1teQ==\n",
            expect="accepted",
        )
    )

    # --- files that are not UTF-8, not mappings, not files ----------------------------------------------------------
    add(_make("vsphere-latin1-byte", "vsphere", "encoding: a Latin-1 byte", stack=BASES["vsphere"].encode() + b"  # caf\xe9\n"))
    add(_make("nutanix-utf16", "nutanix", "encoding: UTF-16", stack=BASES["nutanix"].encode("utf-16")))
    add(
        _make(
            "snow-bom",
            "snow",
            "encoding: a UTF-8 byte-order mark is fine",
            stack=b"\xef\xbb\xbf" + BASES["snow"].encode(),
            expect="accepted",
        )
    )
    add(
        _make(
            "baremetal-csv-latin1",
            "baremetal",
            "encoding: a CSV in Latin-1",
            csv=base_csv().encode("utf-8").replace(b"eksa-cp-1", b"eksa-cp-\xe9"),
        )
    )
    add(
        _make(
            "baremetal-csv-nul",
            "baremetal",
            "encoding: a NUL byte in the CSV",
            csv=base_csv().replace("type=worker|gpu=no", "type=worker\x00"),
        )
    )
    add(
        _make(
            "baremetal-csv-duplicate-column",
            "baremetal",
            "a CSV naming ip_address twice",
            csv=base_csv().replace("labels,disk", "labels,ip_address", 1),
        )
    )
    add(
        _make(
            "baremetal-csv-huge-field",
            "baremetal",
            "a CSV field over the reader's limit",
            csv=_csv({4: {"labels": "type=etcd|x=" + "y" * 140_000}}),
        )
    )
    add(_make("baremetal-csv-is-dev-zero", "baremetal", "a CSV path that is a device", ("hardwareCsv: @CSV@", "hardwareCsv: /dev/zero")))
    add(_make("baremetal-csv-is-directory", "baremetal", "a CSV path that is a directory", ("hardwareCsv: @CSV@", "hardwareCsv: /tmp")))
    add(_make("vsphere-top-level-list", "vsphere", "a top level that is a list", stack="- config:\n    eksa-firewall:platform: vsphere\n"))
    add(_make("nutanix-top-level-scalar", "nutanix", "a top level that is text", stack="eksa-firewall:platform nutanix\n"))
    add(_make("snow-config-is-list", "snow", "a config section that is a list", stack="config:\n  - eksa-firewall:platform: snow\n"))
    add(_make("aws-region-empty-file", "aws-region", "an empty file", stack=""))
    add(_make("vsphere-tabs", "vsphere", "tabs for indentation", ("    nsx:\n      host:", "    nsx:\n\thost:")))
    add(_make("nutanix-unclosed-quote", "nutanix", "an unclosed quote", ("namePrefix: eksa-", "namePrefix: 'eksa-")))
    return [replace(c, mentions=CHECKS[c.id][0], never=CHECKS[c.id][1]) if c.id in CHECKS else c for c in out]


# What the error must say (the key to fix, as written; the reason) and must not (an innocent key, a bad suggestion).
CHECKS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "vsphere-zone-id-flush-in-control-plane": (("clusters[0].controlPlane.addresses[0]", "zone id"), ()),
    "baremetal-csv-ip-zone-flush": (("hardwareCsv.line 2.ip_address", "zone id"), ()),
    "baremetal-csv-bmc-ip-injection": (("hardwareCsv.line 3.bmc_ip",), ()),
    "baremetal-csv-raw-lines": (("hardwareCsv.line 7",), ()),
    "baremetal-csv-broadcast-address": (("hardwareCsv.line 4.ip_address", "limited broadcast"), ()),
    "baremetal-csv-hostname-newline": (("hardwareCsv.line 4.hostname", "control character"), ()),
    "aws-region-zone-id-admin": (("eksa-firewall:adminMachine.addresses[0]", "zone id"), ()),
    "vsphere-admin-in-halves-external-etcd": (("eksa-firewall:adminMachine.addresses", "2379"), ()),
    "baremetal-ssh-in-halves": (("eksa-firewall:clients.ssh", "IPv4 Internet"), ()),
    "vsphere-ssh-ipv6-halves": (("eksa-firewall:clients.ssh", "IPv6 Internet"), ()),
    "vsphere-managing-workers-everywhere": (
        ("eksa-firewall:clusters[0].workerGroups[0].addresses", "Etcd API endpoint (TCP 2379"),
        ("clusters[0].controlPlane.addresses:", "Manager ("),
    ),
    "vsphere-cp-inside-workers": (("clusters[1].controlPlane.addresses", "clusters[1].workerGroups[0].addresses"), ()),
    "snow-two-clusters-same-addresses": (("clusters[0].controlPlane.addresses", "clusters[1].controlPlane.addresses"), ()),
    "vsphere-alias-bomb-other-namespace": (("excessive aliasing",), ()),
    "vsphere-duplicate-top-key": (("already defined at line",), ()),
    "nutanix-duplicate-keys-several": (("2 keys are written twice",), ()),
    "snow-yes-for-external-etcd": (("clusters[1].etcd.external", "true or false"), ()),
    "vsphere-misspelt-namespace": (("did you mean eksa-firewall:clients?",), ()),
    "baremetal-misspelt-namespace-twice": (("2 keys have a misspelt namespace",), ()),
    "vsphere-nsx-tag-scope-too-long": (("vsphere.nsx.nsxTagScope", "128"), ()),
    "vsphere-log-label-separator": (("vsphere.nsx.logLabel", "\\u2028"), ()),
    "nutanix-long-cluster-name": (("nutanix.namePrefix", "Prism Central allows"), ()),
    "vsphere-second-ssh-entry-bad": (("eksa-firewall:clients.ssh[1]", "host bits"), ()),
    "nutanix-misspelt-platform": (("did you mean 'nutanix'", "invalid configuration:"), ("belongs to another platform",)),
    "vsphere-nsx-category-typo": (("vsphere.nsx.category",), ("'Ethernet'",)),
    "vsphere-latin1-byte": (("not UTF-8", "0xe9"), ()),
    "baremetal-csv-latin1": (("hardware CSV is not UTF-8",), ()),
    "baremetal-csv-duplicate-column": (("ip_address twice",), ()),
    "baremetal-csv-huge-field": (("hardwareCsv.line 6", "field larger than field limit"), ()),
    "baremetal-csv-is-dev-zero": (("not a regular file",), ()),
    "baremetal-hardware-csv-nul-path": (("eksa-firewall:hardwareCsv",), ()),
    "snow-ca-bundle-raw-escape": (("U+001B",), ()),
    "vsphere-top-level-list": (("must be a mapping",), ()),
}
