"""components/addresses.py: what ``span`` computes without the ipaddress module's cached objects."""

from __future__ import annotations

import ipaddress

import pytest

from components.addresses import span


@pytest.mark.parametrize("text", ["10.0.0.5/32", "10.0.0.0/24", "10.128.0.0/9", "0.0.0.0/0", "2001:db8::1/128", "2001:db8::/64", "::/0"])
def test_span_is_the_first_and_last_address(text: str) -> None:
    net = ipaddress.ip_network(text)
    expected = (int(net.network_address), int(net.broadcast_address))
    fresh = ipaddress.ip_network(text)
    assert span(fresh) == expected
    assert "broadcast_address" not in vars(fresh)  # nothing cached on the network
