"""The last good table on disk, the conditional fetch, and what the running agent serves."""

from __future__ import annotations

import json
import logging
import random
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from senders.agent.fetch import USER_AGENT, Fetcher, next_delay
from senders.agent.service import Agent, Config
from senders.agent.state import StateError, StateStore, atomic_write
from tests.agent.conftest import TOKEN, ExportServer, RunningAgent, wait_for

GOOD = "example.com smtp.myisp.com\n"
NEWER = "example.com relay.example.net:587\n"


def agent_for(server: ExportServer, state_dir: Path) -> Agent:
    return Agent(Config(url=server.url, token=TOKEN, state_dir=str(state_dir)))


def test_a_fetch_sends_token_user_agent_and_then_if_none_match(export_server: ExportServer) -> None:
    export_server.publish(GOOD, revision=4)
    fetcher = Fetcher(export_server.url, TOKEN, "txt")
    first = fetcher.fetch()
    assert (first.outcome, first.text, first.revision) == ("new", "200, revision 4", 4)
    second = fetcher.fetch(first.etag)
    assert (second.outcome, second.text) == ("unchanged", "304 not modified")
    sent = export_server.requests
    assert sent[0]["authorization"] == f"Bearer {TOKEN}"
    assert sent[0]["user-agent"] == USER_AGENT == "overrides-agent/0.1.0"
    assert "if-none-match" not in sent[0]
    assert sent[1]["if-none-match"] == export_server.etag


def test_a_refused_fetch_says_why(export_server: ExportServer) -> None:
    assert Fetcher(export_server.url, "wrong", "txt").fetch().text == "HTTP 401: 401 Unauthorized"
    export_server.status = 503
    assert Fetcher(export_server.url, TOKEN, "txt").fetch().text == "HTTP 503: not now"


def test_a_table_that_does_not_parse_is_refused(export_server: ExportServer) -> None:
    export_server.publish("example.com smtp.myisp.com $sizee>10\n", revision=9)
    fetched = Fetcher(export_server.url, TOKEN, "txt").fetch()
    assert fetched.outcome == "error"
    assert fetched.text == (
        'refused revision 9: table does not parse: line 1, col 28: unknown attribute "$sizee" '
        "(did you mean $size?)"
    )


def test_a_cut_off_body_is_refused(export_server: ExportServer) -> None:
    export_server.publish(GOOD + NEWER, revision=2)
    export_server.etag_override = f'"{"0" * 64}"'  # the hash of a longer body
    fetched = Fetcher(export_server.url, TOKEN, "txt").fetch()
    assert fetched.text == (
        "refused revision 2: body of 61 bytes does not match its ETag (cut off or changed "
        "in transit)"
    )


def test_an_empty_table_is_accepted_only_with_its_etag(export_server: ExportServer) -> None:
    export_server.publish("", revision=5)
    assert Fetcher(export_server.url, TOKEN, "txt").fetch().outcome == "new"
    export_server.etag_override = 'W/"weak"'
    assert Fetcher(export_server.url, TOKEN, "txt").fetch().text == (
        "refused revision 5: empty body without an ETag proving it (an emptied table has one)"
    )


def test_an_unreachable_server_is_one_line() -> None:
    fetched = Fetcher("http://127.0.0.1:9/export/main.txt", TOKEN, "txt").fetch()
    assert fetched.text == "cannot reach http://127.0.0.1:9: [Errno 111] Connection refused"


def test_polls_are_jittered_below_the_interval_and_back_off_on_errors() -> None:
    rng = random.Random(1)
    delays = [next_delay(30, 0, rng) for _ in range(200)]
    assert min(delays) >= 22.5 and max(delays) <= 30
    assert max(delays) - min(delays) > 5
    assert 45 <= next_delay(30, 1, rng) <= 60
    assert 90 <= next_delay(30, 2, rng) <= 120
    assert 225 <= next_delay(30, 10, rng) <= 300
    assert 2700 <= next_delay(3600, 3, rng) <= 3600


# ---------------------------------------------------------------- disk


def test_a_new_table_is_saved_atomically_and_privately(
    export_server: ExportServer, tmp_path: Path
) -> None:
    export_server.publish(GOOD, revision=4)
    agent = agent_for(export_server, tmp_path)
    agent.poll_once()
    saved = tmp_path / "table.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    record = json.loads(saved.read_text())
    assert (record["body"], record["revision"], record["etag"]) == (GOOD, 4, export_server.etag)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["status.json", "table.json"]


def test_a_failed_write_leaves_the_old_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "table.json"
    atomic_write(path, b"old")

    class Boom(Exception):
        pass

    def broken_write(data: bytes) -> None:
        raise Boom

    import os

    real_fdopen = os.fdopen

    def fdopen(fd: int, mode: str) -> object:
        file = real_fdopen(fd, mode)
        file.write = broken_write  # type: ignore[method-assign]
        return file

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "fdopen", fdopen)
        with pytest.raises(Boom):
            atomic_write(path, b"new")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["table.json"]


def test_a_broken_table_on_the_server_does_not_replace_the_good_one(
    export_server: ExportServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    export_server.publish(GOOD, revision=4)
    agent = agent_for(export_server, tmp_path)
    agent.poll_once()
    export_server.publish("example.com smtp.myisp.com $end $end\n", revision=5)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="overrides_agent"):
        agent.poll_once()
    assert agent.table is not None and agent.table.revision == 4
    assert json.loads((tmp_path / "table.json").read_text())["revision"] == 4
    assert caplog.messages == [
        "fetch failed: refused revision 5: table does not parse: line 1, col 33: "
        "repeated option $end; keeping revision 4"
    ]


def test_a_restart_serves_the_saved_table_when_the_server_is_down(
    export_server: ExportServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    export_server.publish(GOOD, revision=4)
    agent_for(export_server, tmp_path).poll_once()
    export_server.stop()
    restarted = agent_for(export_server, tmp_path)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="overrides_agent"):
        assert restarted.load_saved()
        restarted.poll_once()
    assert restarted.table is not None and restarted.table.revision == 4
    assert (
        caplog.messages[0]
        == f"serving revision 4 (1 rule) from the saved copy {tmp_path}/table.json"
    )
    assert caplog.messages[1].startswith("fetch failed: cannot reach http://127.0.0.1:")
    assert caplog.messages[1].endswith("Connection refused; keeping revision 4")


def test_a_damaged_state_file_is_reported_not_served(tmp_path: Path) -> None:
    (tmp_path / "table.json").write_text('{"body": "example.com smtp.myisp.com\\n"')
    with pytest.raises(StateError) as error:
        StateStore(tmp_path).load()
    assert str(error.value) == f"{tmp_path}/table.json is unusable: not a saved table"


# ---------------------------------------------------------------- the running agent


def test_the_agent_logs_one_line_per_served_revision(
    export_server: ExportServer,
    start_agent: Callable[..., RunningAgent],
    caplog: pytest.LogCaptureFixture,
) -> None:
    export_server.publish(GOOD, revision=4)
    with caplog.at_level(logging.INFO, logger="overrides_agent"):
        agent = start_agent(interval=0.05)
        assert agent.ask("transport", "bob@example.com") == "OK smtp:[smtp.myisp.com]:25"
        wait_for(lambda: len(export_server.requests) >= 4)
        export_server.publish(NEWER, revision=5)
        assert wait_for(lambda: agent.ask("transport", "bob@example.com").endswith("]:587"))
        wait_for(lambda: len(export_server.requests) >= 10)
    served = [m for m in caplog.messages if m.startswith("serving")]
    assert served == [
        f"serving revision 4 (1 rule) from {export_server.url}",
        f"serving revision 5 (1 rule) from {export_server.url}",
    ]
    assert agent.ask("transport", "bob@example.com") == "OK smtp:[relay.example.net]:587"


def test_the_log_names_login_conflicts_but_never_a_password_or_the_token(
    export_server: ExportServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    export_server.publish(
        "a.example ann:pw-alpha@smtp.x.com:587\nb.example bob:pw-beta@smtp.x.com:587\n",
        revision=2,
    )
    agent = agent_for(export_server, tmp_path)
    with caplog.at_level(logging.DEBUG, logger="overrides_agent"):
        agent.poll_once()
        export_server.status = 503
        agent.poll_once()
    assert caplog.messages[1] == (
        "sasl: lines 1 and 2 use different users for smtp.x.com:587 (ann, bob); Postfix can "
        "use only one: the agent gives it ann (line 1)"
    )
    text = "\n".join(caplog.messages)
    assert "pw-" not in text and TOKEN not in text


def test_a_damaged_state_file_does_not_stop_a_start_that_can_fetch(
    export_server: ExportServer,
    start_agent: Callable[..., RunningAgent],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    state = tmp_path / "damaged"
    state.mkdir()
    (state / "table.json").write_text("{")
    export_server.publish(GOOD, revision=6)
    with caplog.at_level(logging.INFO, logger="overrides_agent"):
        agent = start_agent(state_dir=state)
        assert agent.ask("transport", "bob@example.com") == "OK smtp:[smtp.myisp.com]:25"
    assert caplog.messages[0] == (
        f"{state}/table.json is unusable: not a saved table; starting without it"
    )
    assert json.loads((state / "table.json").read_text())["revision"] == 6
