"""Postfix's own client against the running agent: `postmap -q KEY socketmap:…:transport`.

postmap uses the same socketmap client code as Postfix's daemons (dict_sockmap.c).
Postfix is installed by scripts/test.sh; these tests never skip.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from senders.agent.socketmap import Listen
from tests.agent.conftest import ExportServer, RunningAgent

TABLE = (
    "example.com smtp.myisp.com\n"
    "pair.example a.relay.example:587 $priority:20\n"
    "pair.example joe:let:me@in@b.relay.example:2525 $priority:5\n"
)


def postmap(tmp_path: Path, table: str, *keys: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "postfix"
    config.mkdir(exist_ok=True)
    (config / "main.cf").touch()
    postmap = shutil.which("postmap") or "/usr/sbin/postmap"
    query = ["-q", keys[0]] if len(keys) == 1 else ["-q", "-"]
    return subprocess.run(
        [postmap, "-c", str(config), *query, table],
        input="".join(f"{key}\n" for key in keys) if len(keys) > 1 else None,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.fixture
def running(
    export_server: ExportServer, start_agent: Callable[..., RunningAgent], socket_path: str
) -> RunningAgent:
    export_server.publish(TABLE, revision=3)
    return start_agent(listen=[Listen("unix", path=socket_path)], socket_mode=0o666)


def test_postmap_gets_the_transport_answer(running: RunningAgent, tmp_path: Path) -> None:
    table = running.where.postfix("transport")
    found = postmap(tmp_path, table, "bob@example.com")
    assert (found.returncode, found.stdout) == (0, "smtp:[smtp.myisp.com]:25\n")
    pair = postmap(tmp_path, table, "ann@pair.example")
    assert pair.stdout == "smtp:[b.relay.example]:2525, [a.relay.example]:587\n"
    missing = postmap(tmp_path, table, "bob@example.org")
    assert (missing.returncode, missing.stdout) == (1, "")  # postmap: 1 = not found
    star = postmap(tmp_path, table, "*")
    assert (star.returncode, star.stdout) == (1, "")


def test_postmap_gets_the_sasl_login_only_for_the_bracketed_key(
    running: RunningAgent, tmp_path: Path
) -> None:
    table = running.where.postfix("sasl")
    found = postmap(tmp_path, table, "[b.relay.example]:2525")
    assert (found.returncode, found.stdout) == (0, "joe:let:me@in\n")
    bare = postmap(tmp_path, table, "b.relay.example")
    assert (bare.returncode, bare.stdout) == (1, "")


def test_postmap_many_keys_over_one_connection(running: RunningAgent, tmp_path: Path) -> None:
    table = running.where.postfix("transport")
    result = postmap(tmp_path, table, "a@example.com", "b@nowhere.example", "c@example.com")
    assert result.returncode == 0
    assert result.stdout == (
        "a@example.com\tsmtp:[smtp.myisp.com]:25\nc@example.com\tsmtp:[smtp.myisp.com]:25\n"
    )


def test_postmap_over_loopback_tcp(
    export_server: ExportServer, start_agent: Callable[..., RunningAgent], tmp_path: Path
) -> None:
    export_server.publish(TABLE, revision=3)
    running = start_agent(listen=[Listen("inet", host="127.0.0.1", port=0)])
    table = running.where.postfix("transport")
    assert table.startswith("socketmap:inet:127.0.0.1:")
    assert postmap(tmp_path, table, "bob@example.com").stdout == "smtp:[smtp.myisp.com]:25\n"
