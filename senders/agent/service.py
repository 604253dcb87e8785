"""The running agent: the served table, the polling loop and the socketmap server.

The table in memory is replaced by one assignment: a lookup sees the old table or
the new one. A new table is saved to disk before it is served, so a restart serves
what Postfix last saw. Every change of the served table is one log line naming the
revision; so are refused tables and fetch failures (once per failure streak).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import random
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field

from senders.agent.export import kind_of
from senders.agent.fetch import Fetched, Fetcher, next_delay
from senders.agent.lookup import Reply, Table, lookup, lookup_without_dns
from senders.agent.socketmap import Listen, SocketmapServer
from senders.agent.state import FetchStatus, Saved, StateError, StateStore, now
from senders.engine import DnsResolver, Resolver, Rule

logger = logging.getLogger("overrides_agent")


def settle_heap() -> None:
    """Take the table just loaded out of the garbage collector's scans.

    A 10,000-rule table is hundreds of thousands of objects that live until the next
    table: every full collection would walk them all and stall the lookups waiting
    behind it (milliseconds of p99 latency). Frozen objects are still freed when the
    next table replaces them: the previous heap is unfrozen and collected first.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class AgentError(Exception):
    """The agent cannot start (the message says why, in one line)."""


@dataclass
class Config:
    url: str
    token: str
    state_dir: str
    listen: list[Listen] = field(default_factory=list)
    interval: float = 30.0
    nameservers: list[str] = field(default_factory=list)
    timeout: float = 5.0
    socket_mode: int = 0o660
    socket_group: int | None = None


def describe(revision: int | None) -> str:
    return f"revision {revision}" if revision is not None else "a table without revision number"


class Agent:
    def __init__(self, config: Config, resolver: Resolver | None = None) -> None:
        self.config = config
        self.state = StateStore(config.state_dir)
        self.fetcher = Fetcher(config.url, config.token, kind_of(config.url))
        self.resolver: Resolver = resolver or DnsResolver(config.nameservers, config.timeout)
        self.table: Table | None = None
        self.etag: str | None = None
        self.server: SocketmapServer | None = None
        self.failures = 0
        self._rng = random.Random()  # jitter, not security

    # ------------------------------------------------------------ answers

    def answer(self, map_name: str, key: str) -> Reply | None:
        return lookup_without_dns(self.table, map_name, key)

    def answer_slow(self, map_name: str, key: str) -> Reply:
        return lookup(self.table, map_name, key, self.resolver)

    # ------------------------------------------------------------ the table

    def serve_table(self, rules: Sequence[Rule], revision: int | None, source: str) -> None:
        table = Table(rules, revision)
        previous = self.table
        self.table = table
        if previous is None or previous.revision != revision or previous.rules != table.rules:
            unused = len(table.unused)
            logger.info(
                "serving %s (%d rule%s) from %s%s",
                describe(revision),
                len(table),
                "" if len(table) == 1 else "s",
                source,
                f"; {unused} rule{'s' if unused != 1 else ''} with conditions Postfix cannot "
                "pass are left out (docs/postfix.md)"
                if unused
                else "",
            )
            # A JSON export numbers rules by their position, a .txt export by line.
            word = "rule" if self.fetcher.kind == "json" else "line"
            for conflict in table.sasl_conflicts:
                logger.warning("sasl: %s", conflict.describe(word))
        del previous
        settle_heap()

    def load_saved(self) -> bool:
        loaded = self.state.load()  # StateError propagates: a broken state file is reported
        if loaded is None:
            return False
        saved, rules = loaded
        if saved.url and saved.url != self.config.url:
            logger.warning("the saved table came from %s, not from --url", saved.url)
        self.etag = saved.etag
        self.serve_table(rules, saved.revision, f"the saved copy {self.state.table_path}")
        return True

    def poll_once(self) -> Fetched:
        """One fetch; a new good table is saved, then served. Never raises."""
        fetched = self.fetcher.fetch(self.etag if self.table is not None else None)
        text = fetched.text
        if fetched.outcome == "new":
            try:
                self.state.save(
                    Saved(
                        fetched.body,
                        self.fetcher.kind,
                        fetched.etag,
                        fetched.revision,
                        now(),
                        self.config.url,
                    )
                )
            except OSError as error:
                # Served all the same: the server has it; only a restart would lose it.
                logger.error("cannot save the table to %s: %s", self.state.directory, error)
            self.etag = fetched.etag
            self.serve_table(fetched.rules, fetched.revision, self.fetcher.url)
        elif fetched.outcome == "unchanged" and self.table is not None:
            text = f"304 not modified ({describe(self.table.revision)})"
        if fetched.outcome == "error":
            self.failures += 1
            # Without a table the caller reports the failure (as the reason it cannot start).
            if self.table is not None and (self.failures == 1 or "refused" in text):
                logger.error("fetch failed: %s; keeping %s", text, describe(self.table.revision))
        else:
            if self.failures:
                logger.info("fetch works again after %d failure(s)", self.failures)
            self.failures = 0
        revision = self.table.revision if self.table is not None else None
        try:
            self.state.save_status(FetchStatus(now(), fetched.outcome != "error", text, revision))
        except OSError as error:
            logger.debug("cannot write the fetch status: %s", error)
        return fetched

    async def first_fetch(self) -> None:
        """Fetch once; AgentError if there is no table at all (none saved, none fetched)."""
        fetched = await asyncio.to_thread(self.poll_once)
        if self.table is None:
            raise AgentError(
                f"no saved table in {self.state.directory} and the first fetch failed: "
                f"{fetched.text}"
            )

    async def poll_forever(self) -> None:
        while True:
            await asyncio.sleep(next_delay(self.config.interval, self.failures, self._rng))
            await asyncio.to_thread(self.poll_once)

    # ------------------------------------------------------------ serving

    async def open_sockets(self) -> SocketmapServer:
        server = SocketmapServer(
            self.answer,
            self.answer_slow,
            socket_mode=self.config.socket_mode,
            socket_group=self.config.socket_group,
        )
        self.server = server
        try:
            for where in self.config.listen:
                await server.listen(where)
        except BaseException:
            await server.close()
            raise
        for where in server.bound:
            logger.info("listening on %s (maps transport and sasl)", where)
        return server

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Start, serve until SIGTERM/SIGINT (or `stop`), then close the sockets."""
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            # Not in the main thread (tests): `stop` is set by the caller.
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, stop.set)
        self.state.prepare()
        try:
            self.load_saved()  # before listening: Postfix gets the saved table at once
        except StateError as error:
            logger.error("%s; starting without it", error)
        server = await self.open_sockets()
        try:
            await self.first_fetch()
            poller = asyncio.create_task(self.poll_forever())
            await stop.wait()
            poller.cancel()
        finally:
            await server.close()
        logger.info("stopped")
