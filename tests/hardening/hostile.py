"""Hostile text, for every free-text and address field: what an attacker or a careless editor would type.

``INJECTIONS`` are hand-picked (each names what it tries); ``hostile_text(valid)`` mixes them with the field's own
valid value (before, after, inside it), with short random strings over an alphabet of dangerous characters, and
with arbitrary Unicode; ``hostile_value(valid)`` adds the wrong types a YAML file can hold.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

FLUSH = "flush ruleset"
EVIL_TABLE = "table inet evil { chain input { type filter hook input priority -1; policy accept; } }"

INJECTIONS: tuple[str, ...] = (
    # nftables: a new statement after a line break or a ';', a closed block, a quote that ends a comment
    f"\n{FLUSH}\n",
    f"fe80::1%x\n{FLUSH}\n{EVIL_TABLE}",
    f"; {FLUSH}",
    f"}}; {FLUSH}; table inet x {{",
    '" accept comment "x',
    '"',
    "'",
    "\\",
    # IPv6 zone ids (ipaddress keeps any text after %)
    "fe80::1%eth0",
    "10.0.0.1%25",
    "fe80::1%25eth0",
    "::%",
    # control characters, and Unicode line and paragraph separators, format characters
    "\x00",
    f"\x00{FLUSH}",
    "\r",
    "\r\n",
    "\t",
    "\x0b",
    "\x0c",
    "\x1b[2J",
    "\x7f",
    "\x85",
    "\u2028",
    "\u2029",
    "\ufeff",
    "\u202e",
    "\u200b",
    # shell
    "$(reboot)",
    "`id`",
    "| sh",
    "&& rm -rf /",
    "$HOME",
    "*",
    "../../etc/passwd",
    "/etc/shadow",
    "-rf",
    # YAML's special words and signs (booleans of YAML 1.1, nulls, numbers, anchors, tags, merge keys)
    "yes",
    "no",
    "on",
    "off",
    "y",
    "true",
    "FALSE",
    "null",
    "~",
    "<<",
    "*alias",
    "&anchor",
    "!!python/object/apply:os.system",
    "- a",
    "a: b",
    "{a: b}",
    "[a]",
    "#",
    "? x",
    "0x1F",
    "0o17",
    "017",
    "1e3",
    ".inf",
    ".nan",
    "1_000",
    "2001-01-01",
    # format strings, empty and blank text, Unicode that changes under case mapping or normalisation
    "%s%n",
    "{0}",
    "%(x)s",
    "",
    " ",
    "💥",
    "é",
    "İ",
    "ﬁ",
    "Ⅸ",
    "١",
    # very long
    "a" * 129,
    "a" * 300,
    "b" * 5000,
    # addresses that are valid but mean a lot
    "0.0.0.0/0",
    "::/0",
    "0.0.0.0/1",
    "128.0.0.0/1",
    "2000::/3",
    "::ffff:10.0.0.1",
    "255.255.255.255",
    "0.0.0.0",
    "224.0.0.1",
    "127.0.0.1",
    "10.0.0.0/8",
)

# Characters that mean something to nft, a shell, YAML, CSV, JSON or a terminal.
ALPHABET = "\n\r\t\x00\x1b\x7f\x85\u2028\u2029 ;{}\"'`$|&<>*?#%:,=/\\[]()!@~-_.0123456789abcdefxyz:"


def _place(valid: str, injection: str, where: int) -> str:
    if where == 0:
        return injection + valid
    if where == 1:
        return valid + injection
    middle = len(valid) // 2
    return valid[:middle] + injection + valid[middle:]


def hostile_text(valid: str = "") -> st.SearchStrategy[str]:
    """Text meant to break out of a field whose valid value is ``valid``."""
    injections = st.sampled_from(INJECTIONS)
    around = st.builds(_place, st.just(valid), injections, st.integers(0, 2))
    return st.one_of(
        injections,
        around,
        around,  # twice: near-valid text finds the most (a parser that checks only the start or the shape)
        st.text(alphabet=ALPHABET, min_size=1, max_size=24),
        st.builds(_place, st.just(valid), st.text(alphabet=ALPHABET, min_size=1, max_size=6), st.integers(0, 2)),
        st.text(max_size=12),
    )


def hostile_value(valid: str = "") -> st.SearchStrategy[Any]:
    """``hostile_text`` or a value of another type than text (what YAML gives for `yes`, `1e3`, `[a]`, `{a: b}`...)."""
    other = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**64),
        st.floats(allow_nan=True, allow_infinity=True),
        st.lists(st.sampled_from(INJECTIONS), max_size=3),
        st.dictionaries(st.sampled_from(INJECTIONS), st.sampled_from(INJECTIONS), max_size=2),
    )
    text = hostile_text(valid)
    return st.one_of(text, text, text, other)
