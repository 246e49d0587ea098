"""The test session runs where it can reach nothing but loopback (see conftest.py)."""

import os
import socket


def test_the_session_sees_only_the_loopback_interface():
    if os.environ.get("RLBOOK_TEST_NETWORK") == "host":
        return  # the reader asked to test in the machine's own network
    interfaces = [name for _, name in socket.if_nameindex()]
    assert interfaces == ["lo"], (
        f"the tests see {interfaces}: they could not make a network namespace of their own (root "
        "or user namespaces needed); set RLBOOK_TEST_NETWORK=host to run them in this network"
    )
    with socket.create_server(("127.0.0.1", 0)) as server:  # loopback is up
        with socket.create_connection(server.getsockname(), timeout=5):
            pass
