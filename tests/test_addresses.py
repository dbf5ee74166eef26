"""components/addresses.py: ``parse_network``'s canonical values and refused characters; what ``span`` computes
without the ipaddress module's cached objects."""

from __future__ import annotations

import ipaddress

import pytest

from components.addresses import AddressError, parse_network, span

# Forms ipaddress accepts for one value: upper case, leading zeros in IPv6 groups, uncompressed, IPv4 inside IPv6.
FORMS = [
    "10.0.0.5",
    "10.0.0.0/24",
    " 192.168.1.0/24 ",
    "2001:DB8::1",
    "2001:0db8:0000:0000:0000:0000:0000:0001",
    "2001:db8:0:0::/64",
    "::FFFF:10.0.0.5",
    "::ffff:a00:5/128",
    "64:ff9b::192.0.2.1",
    "FE80::/10",
]


@pytest.mark.parametrize("text", FORMS)
def test_a_parsed_network_prints_canonical_text_whatever_form_it_was_written_in(text: str) -> None:
    net = parse_network(text)
    # The same value built from numbers alone: nothing of the text can be in it.
    from_numbers = type(net)((int(net.network_address), net.prefixlen))
    assert str(net) == str(from_numbers)
    assert net == from_numbers
    assert getattr(net.network_address, "scope_id", None) is None


def test_whitespace_and_unprintable_characters_are_refused_anywhere_in_the_text() -> None:
    # parse_network checks "unprintable, or a space": every other whitespace character is unprintable (over all
    # of Unicode, checked here) ...
    every = map(chr, range(0x110000))
    assert [c for c in every if c.isspace() and c.isprintable() and c != " "] == []
    # ... and each of them is refused inside an address, as are the control characters and the separators.
    refused = [c for c in map(chr, range(0x3100)) if c.isspace() or not c.isprintable()] + ["\ufeff", "\U000e0001"]
    for c in refused:
        with pytest.raises(AddressError) as refusal:
            parse_network(f"10.0.{c}0.5")
        assert refusal.value.fix.startswith("write one address or CIDR per entry"), repr(c)  # refused before ipaddress reads it


@pytest.mark.parametrize("text", ["10.0.0.5/32", "10.0.0.0/24", "10.128.0.0/9", "0.0.0.0/0", "2001:db8::1/128", "2001:db8::/64", "::/0"])
def test_span_is_the_first_and_last_address(text: str) -> None:
    net = ipaddress.ip_network(text)
    expected = (int(net.network_address), int(net.broadcast_address))
    fresh = ipaddress.ip_network(text)
    assert span(fresh) == expected
    assert "broadcast_address" not in vars(fresh)  # nothing cached on the network
