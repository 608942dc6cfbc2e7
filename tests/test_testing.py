import socket

import pytest

from dramaturg.testing import NetworkBlockedError, is_loopback


def test_network_is_blocked_for_remote_hosts():
    with pytest.raises(NetworkBlockedError):
        socket.create_connection(("203.0.113.7", 80), timeout=1)
    with pytest.raises(NetworkBlockedError):
        socket.getaddrinfo("example.com", 443)


def test_loopback_is_allowed():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=1):
            pass


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.1", "::1", "[::1]", "localhost", b"127.0.0.1"])
def test_is_loopback(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["10.0.0.1", "8.8.8.8", "example.com", "", None])
def test_is_not_loopback(host):
    assert not is_loopback(host)
