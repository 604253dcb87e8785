"""Run the delivery agent (`overrides-agent serve`, issue 13) as Postfix's socketmap server.

The tests talk to it only through its command-line contract and through Postfix
itself (`postmap -q KEY socketmap:unix:PATH:transport`, and real mail), so they
hold for any build of the agent that keeps that contract.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.postfix.harness import PostfixInstance, wait_until


def agent_command() -> list[str]:
    """The console script next to this Python, else `python -m senders.agent`."""
    script = Path(sys.executable).with_name("overrides-agent")
    if script.exists():
        return [str(script)]
    if importlib.util.find_spec("senders.agent") is not None:
        return [sys.executable, "-m", "senders.agent"]
    pytest.fail(
        "agent not installed: there is no overrides-agent console script next to "
        f"{sys.executable} and no senders.agent module (issue 13)"
    )


def socketmap(socket_path: Path, name: str) -> str:
    """How main.cf names one of the agent's maps."""
    return f"socketmap:unix:{socket_path}:{name}"


class Agent:
    """One `overrides-agent serve` process; its output goes to `log_path`."""

    def __init__(
        self,
        *,
        url: str,
        token: str,
        workdir: Path,
        socket_path: Path,
        nameserver: str | None = None,
        interval: float = 1,
        timeout: float = 1,
    ) -> None:
        self.url = url
        self.workdir = workdir
        self.state_dir = workdir / "state"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.token_file = workdir / "token"
        self.token_file.write_text(token + "\n")
        self.token_file.chmod(0o600)
        self.socket_path = socket_path
        self.nameserver = nameserver
        self.interval = interval
        self.timeout = timeout
        self.log_path = workdir / "agent.log"
        self.process: subprocess.Popen[bytes] | None = None

    def argv(self, url: str | None = None) -> list[str]:
        argv = [
            *agent_command(),
            "serve",
            "--url",
            url or self.url,
            "--token-file",
            str(self.token_file),
            "--state-dir",
            str(self.state_dir),
            "--listen",
            f"unix:{self.socket_path}",
            "--interval",
            str(self.interval),
            "--timeout",
            str(self.timeout),
            # Postfix's daemons run as user postfix: group postfix may use the socket.
            "--socket-mode",
            "0660",
            "--socket-group",
            "postfix",
        ]
        if self.nameserver:
            argv += ["--nameserver", self.nameserver]
        return argv

    def start(self, url: str | None = None) -> Agent:
        env = {k: v for k, v in os.environ.items() if k != "OVERRIDES_TOKEN"}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv(url), stdout=log, stderr=subprocess.STDOUT, env=env
            )
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def lookup(self, postfix: PostfixInstance, name: str, key: str) -> tuple[int, str]:
        """What Postfix gets when it asks map `name` about `key` (postmap's status, answer)."""
        return postfix.query(socketmap(self.socket_path, name), key)

    def wait_for_answer(
        self, postfix: PostfixInstance, name: str, key: str, expected: str, timeout: float = 15
    ) -> float:
        """Seconds until the map answers `expected` for `key`; AssertionError at the deadline."""
        started = time.monotonic()
        answer = wait_until(
            lambda: self.lookup(postfix, name, key)[1] == expected or not self.running, timeout
        )
        last = self.lookup(postfix, name, key)
        if not answer or last[1] != expected:
            raise AssertionError(
                f"{name} map answers {last} for {key!r}, not {expected!r}, after {timeout} s "
                f"(agent {'running' if self.running else 'exited'}); agent log:\n{self.log()}"
            )
        return time.monotonic() - started
