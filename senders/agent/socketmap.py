"""Postfix's socketmap protocol (socketmap_table(5)) on Unix sockets and loopback TCP.

A request is one netstring `<map> <key>`; the reply one netstring. Postfix keeps a
connection open for many requests. Answers that need no DNS are computed on the
event loop; the others run in a thread, so a slow name server holds up only the
connection that waits for it. A malformed request closes its connection (Postfix
reconnects); nothing a client sends stops the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import grp
import ipaddress
import logging
import os
import socket
import stat
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from senders.agent.lookup import Reply
from senders.agent.netstring import Decoder, NetstringError, encode

logger = logging.getLogger("overrides_agent")

READ_SIZE = 65536
IDLE_TIMEOUT = 600.0  # Postfix closes idle connections long before this

Answer = Callable[[str, str], Reply | None]  # map, key → reply; None: needs `slow`
SlowAnswer = Callable[[str, str], Reply]


class ListenError(Exception):
    """A --listen value or socket that cannot be used (the message says why)."""


@dataclass(frozen=True, slots=True)
class Listen:
    kind: Literal["unix", "inet"]
    path: str = ""
    host: str = ""
    port: int = 0

    def __str__(self) -> str:
        if self.kind == "unix":
            return f"unix:{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"inet:{host}:{self.port}"

    def postfix(self, map_name: str) -> str:
        """The table name for main.cf / postmap, e.g. `socketmap:unix:/run/a.sock:transport`."""
        return f"socketmap:{self}:{map_name}"


def parse_listen(text: str) -> Listen:
    """`unix:PATH` or `inet:HOST:PORT` (HOST a loopback address, `[::1]` or `localhost`)."""
    problem = f'--listen "{text}": expected unix:PATH or inet:HOST:PORT'
    kind, _, rest = text.partition(":")
    if kind == "unix":
        if not rest or "\0" in rest:
            raise ListenError(problem)
        return Listen("unix", path=rest)
    if kind != "inet":
        raise ListenError(problem)
    if rest.startswith("["):
        host, _, port = rest[1:].partition("]:")
    else:
        host, _, port = rest.rpartition(":")
    if not host or not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise ListenError(problem)
    if host != "localhost":
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            raise ListenError(problem) from None
        if not loopback:
            raise ListenError(
                f'--listen "{text}": only a loopback address is allowed (the sasl map '
                "answers relay passwords to anyone who connects)"
            )
    return Listen("inet", host=host, port=int(port))


def parse_mode(text: str) -> int:
    if not text or len(text) > 4 or any(c not in "01234567" for c in text):
        raise ListenError(f'--socket-mode "{text}": expected an octal mode such as 660')
    return int(text, 8)


def group_id(name: str) -> int:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        if name.isdigit():
            return int(name)
        raise ListenError(f'--socket-group "{name}": no such group') from None


def clear_stale_socket(path: str) -> None:
    """Remove a socket file left by an agent that died; ListenError if one is alive there."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise ListenError(f"unix:{path} exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(path)
    except OSError as error:
        if error.errno not in (errno.ECONNREFUSED, errno.ENOENT):
            raise ListenError(f"unix:{path} cannot be checked: {error.strerror}") from None
    else:
        raise ListenError(f"unix:{path} is in use by another process (an agent already running?)")
    finally:
        probe.close()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


class SocketmapServer:
    """Serves `answer`/`slow` on the given listen addresses."""

    def __init__(
        self,
        answer: Answer,
        slow: SlowAnswer,
        *,
        socket_mode: int = 0o660,
        socket_group: int | None = None,
    ) -> None:
        self._answer = answer
        self._slow = slow
        self._mode = socket_mode
        self._group = socket_group
        self._servers: list[asyncio.base_events.Server] = []
        self._paths: list[str] = []
        self.bound: list[Listen] = []

    async def listen(self, where: Listen) -> None:
        loop = asyncio.get_running_loop()
        try:
            if where.kind == "unix":
                clear_stale_socket(where.path)
                parent = Path(where.path).parent
                if not parent.is_dir():
                    raise ListenError(f"unix:{where.path}: directory {parent} does not exist")
                server = await loop.create_unix_server(self._protocol, path=where.path)
                self._paths.append(where.path)
                os.chmod(where.path, self._mode)
                if self._group is not None:
                    os.chown(where.path, -1, self._group)
                self.bound.append(where)
            else:
                server = await loop.create_server(self._protocol, where.host, where.port)
                port = server.sockets[0].getsockname()[1]
                self.bound.append(Listen("inet", host=where.host, port=port))
        except OSError as error:
            reason = error.strerror or str(error)
            if error.errno == errno.EADDRINUSE:
                reason = "address in use by another process (an agent already running?)"
            raise ListenError(f"cannot listen on {where}: {reason}") from None
        self._servers.append(server)

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)
        for path in self._paths:
            with contextlib.suppress(OSError):
                os.unlink(path)
        self._servers.clear()
        self._paths.clear()

    def _protocol(self) -> _Connection:
        return _Connection(self._answer, self._slow)


class _Connection(asyncio.Protocol):
    """One Postfix connection: requests answered in order, one reply per request.

    A protocol rather than streams: a lookup that needs no DNS is answered inside
    `data_received`, with no task switch (this is the hot path). A lookup that needs
    DNS runs in a thread; requests behind it wait, so replies keep their order.
    """

    def __init__(self, answer: Answer, slow: SlowAnswer) -> None:
        self._answer = answer
        self._slow = slow
        self._decoder = Decoder()
        self._pending: deque[bytes] = deque()
        self._busy = False
        self._paused = False
        self._active = time.monotonic()
        self._transport: asyncio.Transport | None = None
        self._idle: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._idle = asyncio.get_running_loop().call_later(IDLE_TIMEOUT, self._check_idle)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._idle is not None:
            self._idle.cancel()
        self._transport = None
        self._pending.clear()

    def _check_idle(self) -> None:
        if self._transport is None:
            return
        idle = time.monotonic() - self._active
        if idle >= IDLE_TIMEOUT and not self._busy:
            self._transport.close()
            return
        delay = max(1.0, IDLE_TIMEOUT - idle)
        self._idle = asyncio.get_running_loop().call_later(delay, self._check_idle)

    def data_received(self, data: bytes) -> None:
        self._active = time.monotonic()
        try:
            self._pending.extend(self._decoder.feed(data))
        except NetstringError as error:
            logger.warning("closing a socketmap connection: %s", error)
            self._pending.clear()
            if self._transport is not None:
                self._transport.close()
            return
        if not self._busy:
            self._run()

    def pause_writing(self) -> None:  # the client does not read its replies: stop reading
        self._paused = True
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        self._paused = False
        if self._transport is not None:
            self._transport.resume_reading()

    def _run(self) -> None:
        out: list[bytes] = []
        try:
            while self._pending and self._transport is not None:
                map_name, space, key = (
                    self._pending.popleft().decode("utf-8", "replace").partition(" ")
                )
                if not space:
                    reply: Reply | None = Reply("PERM", "malformed request (expected <map> <key>)")
                else:
                    reply = self._answer(map_name, key)
                if reply is None:
                    self._busy = True
                    loop = asyncio.get_running_loop()
                    future = loop.run_in_executor(None, self._slow, map_name, key)
                    future.add_done_callback(self._slow_done)
                    break
                out.append(encode(reply.wire()))
        except Exception:  # a bug in a lookup must not take the server down
            logger.exception("socketmap lookup failed; closing the connection")
            if self._transport is not None:
                self._transport.close()
            return
        if out and self._transport is not None:
            self._transport.write(b"".join(out))

    def _slow_done(self, future: asyncio.Future[Reply]) -> None:
        self._busy = False
        self._active = time.monotonic()
        if self._transport is None:
            return
        try:
            reply = future.result()
        except Exception:
            logger.exception("socketmap lookup failed; closing the connection")
            self._transport.close()
            return
        self._transport.write(encode(reply.wire()))
        self._run()


def connect(where: Listen, timeout: float = 5.0) -> socket.socket:
    """A blocking client connection (for `overrides-agent check`, tests and the benchmark)."""
    if where.kind == "unix":
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.settimeout(timeout)
        try:
            client.connect(where.path)
        except OSError:
            client.close()
            raise
        return client
    return socket.create_connection((where.host, where.port), timeout=timeout)


def ask(client: socket.socket, map_name: str, key: str) -> str:
    """One request on an open connection → the reply text (`OK …`, `NOTFOUND `, …)."""
    client.sendall(encode(f"{map_name} {key}".encode()))
    decoder = Decoder()
    while True:
        data = client.recv(READ_SIZE)
        if not data:
            raise ConnectionError("the agent closed the connection")
        replies = decoder.feed(data)
        if replies:
            return replies[0].decode("utf-8", "replace")
