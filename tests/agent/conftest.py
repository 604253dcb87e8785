"""Fixtures for the agent: a stand-in export server, a running agent, the loopback DNS.

`export_server` speaks the export's contract (docs/export.md: bearer token, strong
SHA-256 ETag, 304 on If-None-Match, X-Table-Revision) from a thread, so that the
agent's own tests need no database; tests/agent/test_live_export.py runs the agent
against the real export instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from senders.agent.service import Agent, Config
from senders.agent.socketmap import Listen, ask, connect
from tests.conftest_dns import dns_server

__all__ = ["dns_server"]

TOKEN = "s3cret-token-for-tests"


@dataclass
class ExportServer:
    body: bytes = b""
    revision: int = 1
    status: int = 200  # anything else: answered with that status and a short body
    etag_override: str | None = None  # sent instead of the body's hash (a cut-off body)
    requests: list[dict[str, str]] = field(default_factory=list)
    url: str = ""
    _server: ThreadingHTTPServer | None = None

    @property
    def etag(self) -> str:
        return f'"{hashlib.sha256(self.body).hexdigest()}"'

    def publish(self, text: str, revision: int | None = None) -> None:
        self.body = text.encode()
        self.revision = revision if revision is not None else self.revision + 1
        self.status = 200
        self.etag_override = None

    def start(self, path: str = "/export/main.txt") -> ExportServer:
        export = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                export.requests.append({k.lower(): v for k, v in self.headers.items()})
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._send(401, b"401 Unauthorized\n")
                if export.status != 200:
                    return self._send(export.status, b"not now\n")
                etag = export.etag_override or export.etag
                if self.headers.get("If-None-Match") == etag:
                    return self._send(304, b"", etag)
                return self._send(200, export.body, etag)

            def _send(self, status: int, body: bytes, etag: str | None = None) -> None:
                self.send_response(status)
                if etag:
                    self.send_header("ETag", etag)
                self.send_header("X-Table-Revision", str(export.revision))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}{path}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@pytest.fixture
def export_server() -> Iterator[ExportServer]:
    server = ExportServer().start()
    yield server
    server.stop()


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    return path


@pytest.fixture
def socket_path(tmp_path: Path) -> str:
    # A short path: Unix socket paths are limited to about 100 bytes.
    path = Path("/tmp") / f"oa-{time.monotonic_ns()}.sock"
    yield str(path)
    path.unlink(missing_ok=True)


class RunningAgent:
    """An Agent serving from its own event loop in a thread (as `serve` does)."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.error: BaseException | None = None
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def main() -> None:
            self._stop = asyncio.Event()
            self._loop.call_soon(self._ready.set)
            await self.agent.run(self._stop)

        try:
            self._loop.run_until_complete(main())
        except BaseException as error:
            self.error = error
        finally:
            self._ready.set()

    def start(self) -> RunningAgent:
        self._thread.start()
        self._ready.wait(5)
        wait_for(lambda: self.error is not None or len(self._listening()) > 0)
        wait_for(lambda: self.error is not None or self.agent.table is not None, 10)
        return self

    def _listening(self) -> list[Listen]:
        server = self.agent.server
        return list(server.bound) if server is not None else []

    @property
    def where(self) -> Listen:
        return self._listening()[0]

    def ask(self, map_name: str, key: str) -> str:
        with connect(self.where) as client:
            return ask(client, map_name, key)

    def stop(self) -> None:
        if self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@pytest.fixture
def start_agent(
    tmp_path: Path, export_server: ExportServer
) -> Iterator[Callable[..., RunningAgent]]:
    started: list[RunningAgent] = []

    def start(**options: object) -> RunningAgent:
        config = Config(
            url=str(options.pop("url", export_server.url)),
            token=TOKEN,
            state_dir=str(options.pop("state_dir", tmp_path / "state")),
            listen=list(options.pop("listen", [Listen("inet", host="127.0.0.1", port=0)])),  # type: ignore[call-overload]
            interval=float(options.pop("interval", 0.2)),  # type: ignore[arg-type]
        )
        for name, value in options.items():
            setattr(config, name, value)
        running = RunningAgent(Agent(config)).start()
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()
