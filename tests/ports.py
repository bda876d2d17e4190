"""A free loopback port for a server a test starts."""

import socket


def free_port() -> int:
    """A port nothing listens on now (the server that takes it binds it a moment later)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
