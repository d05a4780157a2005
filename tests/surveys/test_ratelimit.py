"""Who counts as one client: an IPv4 address, an IPv6 client's /64, behind trusted proxies too."""

import pytest
from django.test import RequestFactory

from surveys.ratelimit import client_key, client_network


def key(remote_addr: str, forwarded: str | None = None) -> str:
    headers = {} if forwarded is None else {"X-Forwarded-For": forwarded}
    return client_key(RequestFactory().get("/", REMOTE_ADDR=remote_addr, headers=headers))


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("fe80::1%eth0", "fe80::/64"),
        ("unknown", "unknown"),
        ("", ""),
    ],
)
def test_a_client_is_an_ipv4_address_or_an_ipv6_64(address, network):
    assert client_network(address) == network


def test_an_ipv6_client_taking_a_new_address_in_its_64_stays_one_client():
    assert key("2001:db8:1:2::1") == key("2001:db8:1:2:a1b2:c3d4:e5f6:7") == key("2001:db8:1:2::ffff")
    assert key("2001:db8:1:2::1") != key("2001:db8:1:3::1")


def test_ipv4_clients_are_told_apart_by_their_whole_address():
    assert key("203.0.113.1") != key("203.0.113.2")
    assert key("::ffff:203.0.113.1") == key("203.0.113.1")


def test_behind_a_trusted_proxy_the_forwarded_address_is_grouped_the_same_way(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.5"
    assert key(proxy, "2001:db8:1:2::1") == key(proxy, "2001:db8:1:2::beef")
    assert key(proxy, "2001:db8:1:2::1") != key(proxy, "2001:db8:1:3::1")
    assert key(proxy, "::ffff:203.0.113.9") == key(proxy, "203.0.113.9") != key(proxy, "203.0.113.10")
    # Only the proxy's own entry is trusted: what the client wrote before it changes nothing.
    assert key(proxy, "198.51.100.1, 2001:db8:1:2::1") == key(proxy, "2001:db8:1:2::2")
