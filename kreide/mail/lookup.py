"""Kreide's mail service: where Postfix and Dovecot ask Kreide (loopback TCP only).

Three small protocols, each on its own port, each answered from kreide/mail/services.py:
- Postfix socketmap (netstrings "name key" -> "OK value" / "NOTFOUND "): the maps
  `domain`, `mailbox` and `alias` (a list's members);
- Postfix's policy delegation protocol (name=value lines, an empty line ends a request)
  for the sending policy and the rate limit;
- one line per Dovecot login from kreide-auth.lua ("auth\\tuser\\tpassword\\tip\\tservice",
  fields %-escaped) answered "OK\\taddress", "FAIL" or "DISABLED\\treason".
It runs inside `kreide mail-start`, not in the web workers, so mail logins do not wait
behind pages and keep working while the web workers are stopped.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, unquote

from django.db import close_old_connections, connections

from kreide.mail import services
from kreide.mail.services import MailList

logger = logging.getLogger(__name__)
MAX_NETSTRING = 100_000


def socketmap_answer(name: str, key: str) -> str:
    if name == "domain":
        return "OK 1" if services.school_for_domain(key) is not None else "NOTFOUND "
    if name not in ("mailbox", "alias"):
        return "PERM unknown map"
    target = services.resolve(key) if "@" in key else None
    if name == "mailbox":
        return "OK 1" if target is not None and not isinstance(target, MailList) else "NOTFOUND "
    if not isinstance(target, MailList):
        return "NOTFOUND "
    # A list without members still accepts mail for no one rather than bouncing.
    return "OK " + (",".join(services.list_recipients(target)) or "postmaster")


def policy_answer(attributes: dict[str, str]) -> str:
    verdict = services.check_recipient(
        attributes.get("sasl_username", ""),
        attributes.get("sender", ""),
        attributes.get("recipient", ""),
    )
    if verdict.allowed:
        return "DUNNO"
    return f"{'450' if verdict.temporary else '554'} {verdict.reason}"


def auth_answer(line: str) -> str:
    fields = [unquote(field) for field in line.rstrip("\r\n").split("\t")]
    if len(fields) < 4 or fields[0] != "auth":
        return "FAIL"
    answer = services.authenticate_client(fields[1], fields[2], fields[3])
    return (
        f"{answer.verdict}\t{quote(answer.value, safe='@.-_+ ')}"
        if answer.value
        else answer.verdict
    )


def _answering(function: Callable[..., str], *args) -> str | None:
    """Run one lookup with a fresh view of the database; None on an unexpected error."""
    close_old_connections()
    try:
        return function(*args)
    except Exception:
        logger.exception("mail lookup failed")
        return None
    finally:
        close_old_connections()


class _Handler(socketserver.StreamRequestHandler):
    def setup(self) -> None:
        super().setup()
        self.server.open_conversations.add(self.request)

    def finish(self) -> None:
        self.server.open_conversations.discard(self.request)
        super().finish()
        # One thread per connection: its database connection ends with it.
        connections.close_all()


class _SocketmapHandler(_Handler):
    def handle(self) -> None:
        while True:
            request = self._read_netstring()
            if request is None:
                return
            name, _space, key = request.partition(" ")
            answer = _answering(socketmap_answer, name, key) or "TEMP lookup failed"
            encoded = answer.encode()
            self.wfile.write(b"%d:%s," % (len(encoded), encoded))
            self.wfile.flush()

    def _read_netstring(self) -> str | None:
        length = b""
        while (char := self.rfile.read(1)) and char != b":":
            length += char
            if not char.isdigit() or len(length) > 7:
                return None
        if not char or not length or int(length) > MAX_NETSTRING:
            return None
        data = self.rfile.read(int(length))
        return data.decode("utf-8", "replace") if self.rfile.read(1) == b"," else None


class _PolicyHandler(_Handler):
    def handle(self) -> None:
        attributes: dict[str, str] = {}
        for raw in self.rfile:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if line:
                name, _eq, value = line.partition("=")
                attributes[name] = value
                continue
            action = _answering(policy_answer, attributes) or "DEFER_IF_PERMIT lookup failed"
            self.wfile.write(f"action={action}\n\n".encode())
            self.wfile.flush()
            attributes = {}


class _AuthHandler(_Handler):
    def handle(self) -> None:
        line = self.rfile.readline(4096).decode("utf-8", "replace")
        answer = _answering(auth_answer, line) or "TEMP"
        self.wfile.write(answer.encode() + b"\n")


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    # Stopping ends the open conversations (Postfix keeps its socketmap connections open)
    # and waits for their threads, which close their database connections.
    daemon_threads = False
    block_on_close = True

    def __init__(self, *args, **kwargs) -> None:
        self.open_conversations: set[socket.socket] = set()
        super().__init__(*args, **kwargs)


@dataclass
class LookupService:
    servers: list[_Server]

    def stop(self) -> None:
        for server in self.servers:
            server.shutdown()
            for conversation in list(server.open_conversations):
                with contextlib.suppress(OSError):
                    conversation.shutdown(socket.SHUT_RDWR)
            server.server_close()


def start(host: str, socketmap_port: int, policy_port: int, auth_port: int) -> LookupService:
    """Listen on the three ports in background threads of this process."""
    servers = [
        _Server((host, socketmap_port), _SocketmapHandler),
        _Server((host, policy_port), _PolicyHandler),
        _Server((host, auth_port), _AuthHandler),
    ]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True, name="mail-lookup").start()
    return LookupService(servers)
