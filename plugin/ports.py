"""A free loopback TCP port, for the child servers we start ourselves (llama-server, and in tests
and benches PostgreSQL and Redis)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port the OS just handed out on 127.0.0.1 (free now; the caller binds it soon after)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
