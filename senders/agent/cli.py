"""`overrides-agent serve|check`: the command line (docs/postfix.md, "Command line").

Bad configuration gives one line on stderr and exit status 2; a start that cannot
get a table (none saved, first fetch failed) or a socket in use, exit status 1.
Never a traceback for anything an operator can get wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import NoReturn

from senders.agent import __version__
from senders.agent.export import kind_of
from senders.agent.fetch import Fetcher
from senders.agent.lookup import MAP_NAMES, Table, lookup
from senders.agent.service import Agent, AgentError, Config, describe
from senders.agent.socketmap import (
    Listen,
    ListenError,
    ask,
    connect,
    group_id,
    parse_listen,
    parse_mode,
)
from senders.agent.state import StateError, StateStore
from senders.engine import DnsResolver, parse_nameserver

PROG = "overrides-agent"
TOKEN_ENV = "OVERRIDES_TOKEN"
USAGE_ERROR = 2
FAILURE = 1


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG, description="Answer Postfix's table lookups from a sender's export."
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="serve|check")
    common = _Parser(add_help=False)
    common.add_argument("--url", required=True, help="the sender's export URL (.txt or .json)")
    common.add_argument("--token-file", help=f"file holding the export token (or set {TOKEN_ENV})")
    common.add_argument("--state-dir", required=True, help="where the last good table is kept")
    common.add_argument(
        "--listen",
        action="append",
        default=[],
        metavar="unix:PATH|inet:HOST:PORT",
        help="socketmap endpoint; may be given more than once",
    )
    common.add_argument("--interval", type=float, default=30.0, help="seconds between polls")
    common.add_argument(
        "--nameserver", action="append", default=[], metavar="IP[:PORT]", help="DNS server"
    )
    common.add_argument("--timeout", type=float, default=5.0, help="DNS timeout in seconds")
    common.add_argument("--socket-mode", default="660", metavar="OCTAL")
    common.add_argument("--socket-group", metavar="GROUP")
    common.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    serve = commands.add_parser("serve", parents=[common], help="run the agent")
    serve.add_argument(
        "--once", action="store_true", help="fetch once, save the table, exit (no sockets)"
    )
    check = commands.add_parser("check", parents=[common], help="report the agent's state")
    check.add_argument("--lookup", nargs=2, metavar=("MAP", "KEY"), help="answer one lookup")
    return parser


def _config(args: argparse.Namespace) -> Config:
    url = args.url
    if not url.startswith(("http://", "https://")):
        raise UsageError(f'--url "{url}" must be an http:// or https:// URL')
    try:
        kind_of(url)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if args.token_file:
        try:
            with open(args.token_file, encoding="utf-8") as file:
                token = file.read().strip()
        except (OSError, UnicodeDecodeError) as error:
            why = getattr(error, "strerror", None) or str(error)
            raise UsageError(f"cannot read the token file {args.token_file}: {why}") from None
        if not token:
            raise UsageError(f"the token file {args.token_file} is empty")
    else:
        token = os.environ.get(TOKEN_ENV, "").strip()
        if not token:
            raise UsageError(f"no token: give --token-file FILE or set {TOKEN_ENV}")
    if not args.interval > 0:
        raise UsageError("--interval must be more than 0 seconds")
    if not args.timeout > 0:
        raise UsageError("--timeout must be more than 0 seconds")
    for server in args.nameserver:
        try:
            parse_nameserver(server)
        except ValueError as error:
            raise UsageError(f"--nameserver: {error}") from None
    try:
        listen = [parse_listen(value) for value in args.listen]
        mode = parse_mode(args.socket_mode)
        group = group_id(args.socket_group) if args.socket_group else None
    except ListenError as error:
        raise UsageError(str(error)) from None
    return Config(
        url=url,
        token=token,
        state_dir=args.state_dir,
        listen=listen,
        interval=args.interval,
        nameservers=list(args.nameserver),
        timeout=args.timeout,
        socket_mode=mode,
        socket_group=group,
    )


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        config = _config(args)
    except UsageError as error:
        return _fail(str(error), USAGE_ERROR)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format=f"{PROG}: %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    try:
        if args.command == "check":
            return check(config, args.lookup)
        if args.once:
            return once(config)
        if not config.listen:
            return _fail("serve needs at least one --listen unix:PATH or inet:HOST:PORT", 2)
        asyncio.run(Agent(config).run())
    except (AgentError, ListenError, StateError) as error:
        return _fail(str(error), FAILURE)
    except KeyboardInterrupt:
        return FAILURE
    return 0


def _fail(message: str, status: int) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return status


def once(config: Config) -> int:
    """`serve --once`: fetch, save a new table, exit 0 if the saved table is current."""
    agent = Agent(config)
    agent.state.prepare()
    try:
        agent.load_saved()
    except StateError as error:
        logging.getLogger("overrides_agent").warning("%s; fetching a new copy", error)
    fetched = agent.poll_once()
    if fetched.outcome == "error":
        return _fail(f"fetch failed: {fetched.text}", FAILURE)
    return 0


# ---------------------------------------------------------------- check


def _when(timestamp: float) -> str:
    moment = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    age = max(0.0, time.time() - timestamp)
    if age < 120:
        ago = f"{age:.0f} s ago"
    elif age < 7200:
        ago = f"{age / 60:.0f} min ago"
    elif age < 172800:
        ago = f"{age / 3600:.1f} h ago"
    else:
        ago = f"{age / 86400:.1f} days ago"
    return f"{moment} ({ago})"


def check(config: Config, wanted: Sequence[str] | None) -> int:
    """Print the saved table, the last fetch, a fetch now, whether the agent answers, and
    (with --lookup) the answer Postfix would get: alone on stdout, the report on stderr."""
    report: list[str] = []
    store = StateStore(config.state_dir)
    table: Table | None = None
    etag: str | None = None
    try:
        loaded = store.load()
    except StateError as error:
        loaded = None
        report.append(f"saved table: {error}")
    if loaded is not None:
        saved, rules = loaded
        table, etag = Table(rules, saved.revision), saved.etag
        report.append(
            f"saved table: {describe(saved.revision)}, {len(rules)} rule"
            f"{'' if len(rules) == 1 else 's'}, saved {_when(saved.saved_at)} in {store.table_path}"
        )
        # A JSON export numbers rules by their position in the table, a .txt export by line.
        word = "rule" if saved.kind == "json" else "line"
        if table.unused:
            numbers = ", ".join(str(rule.line) for rule in table.unused)
            report.append(f"  {word}s Postfix cannot honour (conditions on the message): {numbers}")
        report.extend(f"  sasl: {conflict.describe(word)}" for conflict in table.sasl_conflicts)
    elif not report:
        report.append(f"saved table: none in {store.directory}")
    status = store.load_status()
    if status is not None:
        report.append(f"last fetch by the agent: {_when(status.at)}: {status.text}")
    else:
        report.append("last fetch by the agent: none recorded")
    fetched = Fetcher(config.url, config.token, kind_of(config.url)).fetch(etag)
    if fetched.outcome == "unchanged" and table is not None:
        report.append(
            f"fetch now: 304 not modified: the saved {describe(table.revision)} is current"
        )
    elif fetched.outcome == "new" and table is not None and fetched.body and etag != fetched.etag:
        report.append(
            f"fetch now: {fetched.text}: newer than the saved table; the agent takes it at "
            "its next poll"
        )
    else:
        report.append(f"fetch now: {fetched.text}")

    running: Listen | None = None
    agent_has_table = False
    for where in config.listen:
        try:
            with connect(where) as client:
                agent_has_table = not ask(client, "sasl", "[overrides-agent.check]:25").startswith(
                    "TEMP"
                )
            running = where
            state = "answering" if agent_has_table else "answering, but it has no table yet"
            report.append(f"agent on {where}: {state}")
            break
        except OSError as error:
            report.append(f"agent on {where}: not answering ({error.strerror or error})")
    has_table = agent_has_table if running is not None else table is not None

    answer = None
    if wanted:
        map_name, key = wanted
        if map_name not in MAP_NAMES:
            return _fail(f'--lookup: unknown map "{map_name}" (expected transport or sasl)', 2)
        if running is not None:
            with connect(running) as client:
                answer = ask(client, map_name, key).rstrip()
            report.append(f"{map_name} {key}: asked the agent on {running}")
        else:
            resolver = DnsResolver(config.nameservers, config.timeout)
            answer = str(lookup(table, map_name, key, resolver))
            report.append(f"{map_name} {key}: computed from the saved table (no agent answering)")
    out = sys.stderr if answer is not None else sys.stdout
    for line in report:
        print(line, file=out)
    if answer is not None:
        print(answer)
    return 0 if has_table else FAILURE
