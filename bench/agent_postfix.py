"""Messages per second through a real Postfix: the agent's transport map vs a static hash: map.

    .venv/bin/python bench/agent_postfix.py [--messages 500] [--domains 300] [--rounds 3]

One private Postfix (tests/postfix/harness.py; needs root and Debian's postfix),
three loopback relays that accept everything, and a table of one rule per
recipient domain spread over the relays. Side by side in one run, alternating
(static, agent, static, agent, ...) so both sides see the same machine:
- static: `transport_maps = hash:` with the equivalent entries
  (`dN.bench.test smtp:[127.0.0.x]:port`), built with postmap;
- agent: `transport_maps = socketmap:unix:...:transport` answered by
  `overrides-agent serve`, which follows the same table served as an export from a
  small loopback HTTP server (the agent's side of the contract only: no Django).
Each round submits `--messages` messages over 4 SMTP connections, each to a new
address (so Postfix's 30 s lookup cache never answers for the map), and times
from the first submission to the last arrival at the relays. The best round of
each side counts. Goal: agent ≥ 0.9x static. Exits 1 when the goal is missed or
the agent side cannot run (the agent is not installed).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _support import machine, verdict

from tests.postfix.harness import (
    SENDER,
    PostfixInstance,
    Relay,
    message,
    missing_reason,
    start_relays,
    wait_until,
)

GOAL_RATIO = 0.9
CONNECTIONS = 4
RELAY_HOSTS = ("127.0.0.2", "127.0.0.3", "127.0.0.4")


def agent_command() -> list[str] | None:
    script = Path(sys.executable).with_name("overrides-agent")
    if script.exists():
        return [str(script)]
    if importlib.util.find_spec("senders.agent") is not None:
        return [sys.executable, "-m", "senders.agent"]
    return None


def domains(count: int) -> list[str]:
    return [f"d{i}.bench.test" for i in range(count)]


def table_text(relays: list[Relay], names: list[str]) -> str:
    return "".join(f"{d} {relays[i % len(relays)].address}\n" for i, d in enumerate(names))


def static_entries(relays: list[Relay], names: list[str]) -> dict[str, str]:
    return {d: f"smtp:{relays[i % len(relays)].nexthop}" for i, d in enumerate(names)}


class ExportServer:
    """Serves one table text like the export does (ETag, X-Table-Revision, 304)."""

    def __init__(self, text: str, token: str) -> None:
        body = text.encode()
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.headers.get("Authorization") != f"Bearer {token}":
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("ETag", etag)
                self.send_header("X-Table-Revision", "1")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/export/bench.txt"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def submit_all(postfix: PostfixInstance, recipients: list[str]) -> None:
    """Submit one message per recipient over CONNECTIONS parallel SMTP sessions."""
    errors: list[BaseException] = []

    def worker(share: list[str]) -> None:
        try:
            with smtplib.SMTP("127.0.0.1", postfix.smtpd_port, timeout=60) as client:
                for recipient in share:
                    client.send_message(message(SENDER, recipient, "bench"))
        except BaseException as error:  # reported by the caller
            errors.append(error)

    threads = [
        threading.Thread(target=worker, args=(recipients[i::CONNECTIONS],))
        for i in range(CONNECTIONS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"submission failed: {errors[0]!r}")


def run_round(
    postfix: PostfixInstance,
    relays: list[Relay],
    default: Relay,
    recipients: list[str],
    timeout: float = 300,
) -> float:
    """Messages per second for one round: first submission to last arrival."""
    before = sum(relay.count() for relay in relays)
    default_before = default.count()
    started = time.perf_counter()
    submit_all(postfix, recipients)
    arrived = wait_until(
        lambda: sum(relay.count() for relay in relays) - before >= len(recipients),
        timeout,
        interval=0.02,
    )
    elapsed = time.perf_counter() - started
    if not arrived:
        got = sum(relay.count() for relay in relays) - before
        raise RuntimeError(
            f"only {got} of {len(recipients)} messages reached the relays in {timeout:.0f} s; "
            f"Postfix log tail:\n{postfix.log()[-3000:]}"
        )
    if default.count() != default_before:
        raise RuntimeError("messages went to Postfix's default route, not where the table says")
    return len(recipients) / elapsed


def use_map(postfix: PostfixInstance, transport_maps: str) -> None:
    postfix.postconf({"transport_maps": transport_maps})
    postfix.reload()
    time.sleep(1.5)  # the old daemons finish and new ones read the new main.cf


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--domains", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    reason = missing_reason()
    if reason:
        print(f"cannot run: {reason}")
        return 1
    print(f"Machine: {machine()}")
    print(
        f"{args.messages} messages per round to {args.domains} domains over "
        f"{len(RELAY_HOSTS)} relays, {CONNECTIONS} SMTP connections, best of {args.rounds}"
    )

    started = start_relays(
        ("default", "127.0.0.1", None),
        *((f"relay{i}", host, None) for i, host in enumerate(RELAY_HOSTS)),
    )
    relays = [relay for name, relay in started.items() if name != "default"]
    names = domains(args.domains)
    token = "bench-" + os.urandom(8).hex()
    export = ExportServer(table_text(relays, names), token)
    postfix = PostfixInstance.create(started["default"].nexthop)
    workdir = Path(tempfile.mkdtemp(prefix="pfe2e-bench-agent-"))
    agent: subprocess.Popen[bytes] | None = None
    try:
        static_map = postfix.write_map("transport", static_entries(relays, names), "hash")
        run_dir = postfix.base / "run"
        run_dir.mkdir(mode=0o755)
        socket_path = run_dir / "agent.sock"
        postfix.postconf(
            {
                "transport_maps": static_map,
                "default_destination_concurrency_limit": "20",
                "smtp_sasl_auth_enable": "no",
            }
        )
        postfix.start()

        sides: dict[str, Callable[[], None]] = {"static": lambda: use_map(postfix, static_map)}
        command = agent_command()
        if command is None:
            print("agent: NOT MEASURED - overrides-agent is not installed (issue 13)")
        else:
            token_file = workdir / "token"
            token_file.write_text(token + "\n")
            token_file.chmod(0o600)
            log = (workdir / "agent.log").open("ab")
            agent = subprocess.Popen(
                [
                    *command,
                    "serve",
                    "--url",
                    export.url,
                    "--token-file",
                    str(token_file),
                    "--state-dir",
                    str(workdir),
                    "--listen",
                    f"unix:{socket_path}",
                    "--interval",
                    "30",
                    "--socket-mode",
                    "0660",
                    "--socket-group",
                    "postfix",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            agent_map = f"socketmap:unix:{socket_path}:transport"
            expected = f"smtp:{relays[0].nexthop}"
            ready = wait_until(lambda: postfix.query(agent_map, f"x@{names[0]}")[1] == expected, 20)
            if not ready:
                print(f"agent: did not answer; its log:\n{(workdir / 'agent.log').read_text()}")
                return 1
            sides["agent"] = lambda: use_map(postfix, agent_map)

        rates: dict[str, list[float]] = {side: [] for side in sides}
        for round_number in range(args.rounds):
            for side, select in sides.items():
                select()
                recipients = [
                    f"{side}{round_number}-{i}@{names[i % len(names)]}"
                    for i in range(args.messages)
                ]
                rate = run_round(postfix, relays, started["default"], recipients)
                rates[side].append(rate)
                print(f"  round {round_number + 1} {side:>6}: {rate:7.1f} messages/s")

        best = {side: max(values) for side, values in rates.items()}
        print(f"static hash: map   {best['static']:7.1f} messages/s (best round)")
        if "agent" not in best:
            print(f"agent / static     not measured (goal ≥ {GOAL_RATIO}x) {verdict(False)}")
            return 1
        ratio = best["agent"] / best["static"]
        print(f"agent socketmap    {best['agent']:7.1f} messages/s (best round)")
        ok = ratio >= GOAL_RATIO
        print(f"agent / static     {ratio:7.2f}x  (goal ≥ {GOAL_RATIO}x) {verdict(ok)}")
        return 0 if ok else 1
    finally:
        if agent is not None and agent.poll() is None:
            agent.send_signal(signal.SIGTERM)
            try:
                agent.wait(timeout=10)
            except subprocess.TimeoutExpired:
                agent.kill()
        postfix.destroy()
        export.stop()
        for relay in started.values():
            relay.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
