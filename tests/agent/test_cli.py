"""The command-line contract: `overrides-agent serve|check`, error lines and exit codes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from senders.agent.socketmap import Listen, ask, connect
from tests.agent.conftest import TOKEN, ExportServer, wait_for

ROOT = Path(__file__).resolve().parents[2]
TABLE = "example.com u:pw@smtp.myisp.com:587\n"


def agent(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "senders.agent", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


def options(server: ExportServer, token_file: Path, state: Path, *extra: str) -> list[str]:
    return ["--url", server.url, "--token-file", str(token_file), "--state-dir", str(state), *extra]


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# ---------------------------------------------------------------- bad configuration


def test_a_missing_token_file_is_one_error_line(
    export_server: ExportServer, tmp_path: Path
) -> None:
    result = agent("serve", *options(export_server, tmp_path / "nope", tmp_path), "--once")
    assert result.returncode == 2
    assert error_line(result) == (
        f"overrides-agent: error: cannot read the token file {tmp_path}/nope: "
        "No such file or directory"
    )


def test_an_unreadable_token_file_is_one_error_line(
    export_server: ExportServer, tmp_path: Path
) -> None:
    result = agent("serve", *options(export_server, tmp_path, tmp_path / "state"), "--once")
    assert result.returncode == 2
    assert error_line(result) == (
        f"overrides-agent: error: cannot read the token file {tmp_path}: Is a directory"
    )


def test_without_a_token_it_says_how_to_give_one(
    export_server: ExportServer, tmp_path: Path
) -> None:
    env = {"OVERRIDES_TOKEN": ""}
    result = agent("serve", "--url", export_server.url, "--state-dir", str(tmp_path), env=env)
    assert result.returncode == 2
    assert error_line(result) == (
        "overrides-agent: error: no token: give --token-file FILE or set OVERRIDES_TOKEN"
    )


@pytest.mark.parametrize(
    ("listen", "message"),
    [
        ("tcp:127.0.0.1:1", '--listen "tcp:127.0.0.1:1": expected unix:PATH or inet:HOST:PORT'),
        ("inet:127.0.0.1", '--listen "inet:127.0.0.1": expected unix:PATH or inet:HOST:PORT'),
        (
            "inet:127.0.0.1:99999",
            '--listen "inet:127.0.0.1:99999": expected unix:PATH or inet:HOST:PORT',
        ),
        ("unix:", '--listen "unix:": expected unix:PATH or inet:HOST:PORT'),
        (
            "inet:0.0.0.0:10025",
            '--listen "inet:0.0.0.0:10025": only a loopback address is allowed (the sasl map '
            "answers relay passwords to anyone who connects)",
        ),
    ],
)
def test_a_bad_listen_is_one_error_line(
    export_server: ExportServer, token_file: Path, tmp_path: Path, listen: str, message: str
) -> None:
    result = agent("serve", *options(export_server, token_file, tmp_path), "--listen", listen)
    assert result.returncode == 2
    assert error_line(result) == f"overrides-agent: error: {message}"


def test_a_url_that_is_not_an_export_is_refused(token_file: Path, tmp_path: Path) -> None:
    result = agent(
        "serve", "--url", "http://127.0.0.1/x", "--token-file", str(token_file),
        "--state-dir", str(tmp_path), "--listen", "unix:/tmp/x.sock",
    )  # fmt: skip
    assert result.returncode == 2
    assert error_line(result) == (
        'overrides-agent: error: --url "http://127.0.0.1/x" must end in .txt or .json '
        "(the sender's export URL)"
    )


def test_an_unreachable_url_with_no_saved_table_stops_the_start(
    token_file: Path, tmp_path: Path, socket_path: str
) -> None:
    url = "http://127.0.0.1:9/export/main.txt"
    result = agent(
        "serve", "--url", url, "--token-file", str(token_file), "--state-dir", str(tmp_path),
        "--listen", f"unix:{socket_path}",
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"overrides-agent: error: no saved table in {tmp_path} and the first fetch failed: "
        "cannot reach http://127.0.0.1:9: [Errno 111] Connection refused"
    )
    assert "Traceback" not in result.stderr
    assert not os.path.exists(socket_path)


def test_a_socket_path_in_use_stops_the_start(
    export_server: ExportServer, token_file: Path, tmp_path: Path, socket_path: str
) -> None:
    export_server.publish(TABLE)
    other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    other.bind(socket_path)
    other.listen()
    try:
        result = agent(
            "serve",
            *options(export_server, token_file, tmp_path),
            "--listen",
            f"unix:{socket_path}",
        )
    finally:
        other.close()
    assert result.returncode == 1
    assert error_line(result) == (
        f"overrides-agent: error: unix:{socket_path} is in use by another process "
        "(an agent already running?)"
    )


def test_a_path_that_is_not_a_socket_is_left_alone(
    export_server: ExportServer, token_file: Path, tmp_path: Path
) -> None:
    export_server.publish(TABLE)
    path = tmp_path / "file"
    path.write_text("keep me")
    result = agent(
        "serve", *options(export_server, token_file, tmp_path), "--listen", f"unix:{path}"
    )
    assert result.returncode == 1
    assert error_line(result) == f"overrides-agent: error: unix:{path} exists and is not a socket"
    assert path.read_text() == "keep me"


# ---------------------------------------------------------------- --once and check


def test_once_fetches_saves_and_exits(
    export_server: ExportServer, token_file: Path, tmp_path: Path
) -> None:
    export_server.publish(TABLE, revision=7)
    result = agent("serve", *options(export_server, token_file, tmp_path), "--once")
    assert result.returncode == 0
    assert result.stderr == (
        f"overrides-agent: INFO serving revision 7 (1 rule) from {export_server.url}\n"
    )
    assert (tmp_path / "table.json").exists()
    export_server.status = 503
    failed = agent("serve", *options(export_server, token_file, tmp_path), "--once")
    assert failed.returncode == 1
    assert (
        failed.stderr.splitlines()[-1] == "overrides-agent: error: fetch failed: HTTP 503: not now"
    )


def test_the_token_may_come_from_the_environment(
    export_server: ExportServer, tmp_path: Path
) -> None:
    export_server.publish(TABLE, revision=7)
    result = agent(
        "serve", "--url", export_server.url, "--state-dir", str(tmp_path), "--once",
        env={"OVERRIDES_TOKEN": TOKEN},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_check_lookup_exits_1_without_a_table(
    export_server: ExportServer, token_file: Path, tmp_path: Path
) -> None:
    export_server.status = 503
    opts = options(export_server, token_file, tmp_path)
    result = agent("check", *opts, "--lookup", "transport", "bob@example.com")
    assert result.returncode == 1
    assert result.stdout == "TEMP overrides-agent has no table yet (see overrides-agent check)\n"
    assert result.stderr.splitlines() == [
        f"saved table: none in {tmp_path}",
        "last fetch by the agent: none recorded",
        "fetch now: HTTP 503: not now",
        "transport bob@example.com: computed from the saved table (no agent answering)",
    ]


def test_check_lookup_answers_from_the_saved_table(
    export_server: ExportServer, token_file: Path, tmp_path: Path
) -> None:
    export_server.publish(TABLE, revision=7)
    opts = options(export_server, token_file, tmp_path)
    assert agent("serve", *opts, "--once").returncode == 0
    found = agent("check", *opts, "--lookup", "transport", "bob@example.com")
    assert (found.returncode, found.stdout) == (0, "OK smtp:[smtp.myisp.com]:587\n")
    missing = agent("check", *opts, "--lookup", "transport", "bob@example.org")
    assert (missing.returncode, missing.stdout) == (0, "NOTFOUND\n")
    sasl = agent("check", *opts, "--lookup", "sasl", "[smtp.myisp.com]:587")
    assert (sasl.returncode, sasl.stdout) == (0, "OK u:pw\n")


def test_check_reports_revision_age_and_fetches(
    export_server: ExportServer, token_file: Path, tmp_path: Path
) -> None:
    export_server.publish(TABLE, revision=7)
    opts = options(export_server, token_file, tmp_path)
    agent("serve", *opts, "--once")
    export_server.publish("example.com other.example.net\n", revision=8)
    result = agent("check", *opts)
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("saved table: revision 7, 1 rule, saved 20")
    assert lines[0].endswith(f" s ago) in {tmp_path}/table.json")
    assert lines[1].startswith("last fetch by the agent: 20")
    assert lines[1].endswith(": 200, revision 7")
    assert lines[2] == (
        "fetch now: 200, revision 8: newer than the saved table; the agent takes it at its "
        "next poll"
    )


def test_check_unknown_map_is_an_error(
    export_server: ExportServer, token_file: Path, tmp_path: Path
) -> None:
    result = agent(
        "check", *options(export_server, token_file, tmp_path), "--lookup", "aliases", "x"
    )
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        'overrides-agent: error: --lookup: unknown map "aliases" (expected transport or sasl)'
    )


# ---------------------------------------------------------------- a running agent


@pytest.fixture
def serving(
    export_server: ExportServer, token_file: Path, tmp_path: Path, socket_path: str
) -> Iterator[tuple[list[str], str]]:
    export_server.publish(TABLE, revision=7)
    opts = options(export_server, token_file, tmp_path / "state", "--interval", "0.2")
    opts += ["--listen", f"unix:{socket_path}", "--socket-mode", "666"]
    process = subprocess.Popen(
        [sys.executable, "-m", "senders.agent", "serve", *opts],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_for(lambda: os.path.exists(socket_path) or process.poll() is not None, 20)
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert wait_for(lambda: _ask(socket_path, "sasl", "[x]:25").startswith("NOTFOUND"), 20)
        yield opts, socket_path
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(10)
        assert process.returncode == 0
        assert not os.path.exists(socket_path)  # removed on the way out


def test_serve_answers_on_its_socket_with_the_mode_asked(serving: tuple[list[str], str]) -> None:
    _, path = serving
    assert oct(os.stat(path).st_mode & 0o777) == "0o666"
    assert _ask(path, "transport", "bob@example.com") == "OK smtp:[smtp.myisp.com]:587"


def test_check_asks_the_running_agent(serving: tuple[list[str], str]) -> None:
    opts, path = serving
    result = agent("check", *opts, "--lookup", "transport", "bob@example.com")
    assert (result.returncode, result.stdout) == (0, "OK smtp:[smtp.myisp.com]:587\n")
    assert f"agent on unix:{path}: answering" in result.stderr.splitlines()
    assert result.stderr.splitlines()[-1] == (
        f"transport bob@example.com: asked the agent on unix:{path}"
    )


def test_malformed_input_closes_only_that_connection(serving: tuple[list[str], str]) -> None:
    _, path = serving
    bad = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    bad.connect(path)
    bad.sendall(b"this is not a netstring")
    bad.settimeout(5)
    assert bad.recv(100) == b""  # closed by the agent
    bad.close()
    assert _ask(path, "transport", "bob@example.com") == "OK smtp:[smtp.myisp.com]:587"


def test_one_connection_carries_many_requests(serving: tuple[list[str], str]) -> None:
    _, path = serving
    with connect(Listen("unix", path=path)) as client:
        answers = [ask(client, "transport", f"u{n}@example.com") for n in range(50)]
        client.sendall(b"9:transport,")  # no key: a malformed request, answered
        assert client.recv(100) == b"45:PERM malformed request (expected <map> <key>),"
    assert set(answers) == {"OK smtp:[smtp.myisp.com]:587"}


def _ask(path: str, map_name: str, key: str) -> str:
    try:
        with connect(Listen("unix", path=path)) as client:
            return ask(client, map_name, key).rstrip()
    except OSError as error:
        time.sleep(0.05)
        return f"ERROR {error}"
