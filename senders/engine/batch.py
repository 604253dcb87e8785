"""Impact of a change: many recipients, two tables, which routes change.

`read_recipients` reads a list of recipients in one of three shapes (plain lines,
CSV with a header row, a Postfix log excerpt); `compare_tables` evaluates every
recipient against an old and a new table and groups those whose route changes
by "old route → new route". Routes are text without passwords (only the mask).

DNS: the recipients of one domain are evaluated together in one task, tasks run
on a bounded thread pool, and a `BatchResolver` in front of the caller's resolver
asks each question at most once per batch (temporary failures included) and
stops asking after a total deadline — such recipients `defer`.
"""

from __future__ import annotations

import csv
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

from senders.engine.evaluate import CompiledTable, Message, Result, evaluate
from senders.engine.format import PASSWORD_MASK
from senders.engine.resolve import MxAnswer, Resolver, TimeBoundResolver

MAX_LINES = 100_000
MAX_BYTES = 5 * 1024 * 1024
MAX_ERRORS = 20
EXAMPLES_PER_GROUP = 5
DNS_WORKERS = 16

Kind = Literal["plain", "csv", "log"]

# Column names a header may use, and the field each one fills.
COLUMNS = {
    "recipient": "recipient",
    "to": "recipient",
    "rcpt": "recipient",
    "address": "recipient",
    "sender": "sender",
    "from": "sender",
    "mail_from": "sender",
    "auth_sender": "auth_sender",
    "authsender": "auth_sender",
    "size": "size",
    "retries": "retries",
}
_COLUMN_LIST = "recipient, sender (or from), auth_sender, size, retries"
_LOG_RECIPIENT = re.compile(r"\bto=<([^<>]*)>")
_POSTFIX = re.compile(r"\bpostfix/[\w/-]+\[\d+\]:")


class BatchError(ValueError):
    """The recipient list cannot be read; `.errors` holds every problem, with its line."""

    def __init__(self, errors: Sequence[str]) -> None:
        super().__init__(errors[0])
        self.errors = list(errors)


@dataclass(frozen=True, slots=True)
class Recipient:
    """One recipient of the list (`address`, as written) and the message that routes it.

    The route depends on the domain and the attributes only, so recipients of one
    domain with the same attributes share one `Message` (of the bare domain).
    """

    line: int
    address: str
    message: Message


@dataclass(frozen=True, slots=True)
class RecipientList:
    kind: Kind
    recipients: tuple[Recipient, ...]
    duplicates: int = 0  # the same recipient with the same attributes, listed again


# ---------------------------------------------------------------- reading


def decode_upload(data: bytes, *, max_bytes: int = MAX_BYTES) -> str:
    """Bytes of an uploaded file → text, or BatchError naming the line."""
    if len(data) > max_bytes:
        raise BatchError(
            [f"The list is too big: {len(data):,} bytes, at most {max_bytes:,} bytes (5 MB)."]
        )
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data[:nul].count(b"\n") + 1
        raise BatchError([f"line {line}: this is not a text file (it holds binary data)."])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise BatchError([f"line {line}: this is not UTF-8 text."]) from None


def read_recipients(text: str, *, max_lines: int = MAX_LINES) -> RecipientList:
    """Plain lines, CSV with a header row, or a Postfix log excerpt → recipients.

    Raises BatchError listing (at most MAX_ERRORS of) the problems, each naming its line.
    """
    text = text.removeprefix("\ufeff")
    lines = text.splitlines()
    if len(lines) > max_lines:
        raise BatchError(
            [f"line {max_lines + 1}: too many lines: a list may have at most {max_lines:,}."]
        )
    for number, line in enumerate(lines, start=1):
        if "\x00" in line:
            raise BatchError([f"line {number}: this is not a text file (it holds binary data)."])
    kind = _kind_of(lines)
    if kind == "log":
        found, errors = _read_log(lines)
    elif kind == "csv":
        found, errors = _read_csv(lines)
    else:
        found, errors = _read_plain(lines)
    if errors:
        raise BatchError(errors[:MAX_ERRORS])
    if not found:
        raise BatchError(["The list holds no recipient."])
    unique: dict[tuple[str, Message], Recipient] = {}
    for recipient in found:
        unique.setdefault((recipient.address, recipient.message), recipient)
    return RecipientList(kind, tuple(unique.values()), len(found) - len(unique))


def _kind_of(lines: Sequence[str]) -> Kind:
    for line in lines:
        if _POSTFIX.search(line) and _LOG_RECIPIENT.search(line):
            return "log"
    first = next((line for line in lines if line.strip() and not line.startswith("#")), "")
    names = [cell.strip().lower() for cell in re.split(r"[,;\t]", first)]
    if any(name in COLUMNS for name in names):
        return "csv"
    # "email,name": a header (no cell looks like an address or a domain) with wrong names.
    if len(names) > 1 and not any("@" in name or "." in name for name in names):
        return "csv"
    return "plain"


class _Messages:
    """Builds the messages of a list: one per domain and attributes (normalising a
    domain is the costly part of reading a list)."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, tuple[tuple[str, str | int], ...]], Message] = {}

    def recipient(self, line: int, address: str, values: dict[str, str | int]) -> Recipient:
        """Raises ValueError with the user's message."""
        domain = address.rpartition("@")[2]
        key = (domain, tuple(sorted(values.items())))
        message = self._known.get(key)
        if message is None:
            Message(address, **values)  # type: ignore[arg-type]  # the error names the address
            message = self._known[key] = Message(domain, **values)  # type: ignore[arg-type]
        return Recipient(line, address, message)


def _collect(
    items: Iterable[tuple[int, str, dict[str, str | int]]],
) -> tuple[list[Recipient], list[str]]:
    messages = _Messages()
    found: list[Recipient] = []
    errors: list[str] = []
    for number, address, values in items:
        try:
            found.append(messages.recipient(number, address, values))
        except ValueError as error:
            errors.append(f"line {number}: {error}.")
            if len(errors) >= MAX_ERRORS:
                break
    return found, errors


def _read_plain(lines: Sequence[str]) -> tuple[list[Recipient], list[str]]:
    """One address or domain per line; blank lines and # comments are skipped."""
    items: list[tuple[int, str, dict[str, str | int]]] = []
    for number, line in enumerate(lines, start=1):
        item = line.strip().strip("<>").strip()
        if item and not item.startswith("#"):
            items.append((number, item, {}))
    return _collect(items)


def _read_log(lines: Sequence[str]) -> tuple[list[Recipient], list[str]]:
    """The `to=<…>` recipients of a Postfix log; other lines are ignored."""
    items: list[tuple[int, str, dict[str, str | int]]] = []
    for number, line in enumerate(lines, start=1):
        for match in _LOG_RECIPIENT.finditer(line):
            if match[1]:
                items.append((number, match[1], {}))
    return _collect(items)


def _read_csv(lines: Sequence[str]) -> tuple[list[Recipient], list[str]]:
    """A header row naming the columns, then one recipient per row."""
    start = next(i for i, line in enumerate(lines) if line.strip() and not line.startswith("#"))
    dialect = _dialect(lines[start])
    header = next(csv.reader([lines[start]], dialect))
    fields: list[str] = []
    errors: list[str] = []
    for column, raw in enumerate(header, start=1):
        name = raw.strip().lower().replace(" ", "_").replace("-", "_")
        field_name = COLUMNS.get(name)
        if field_name is None:
            errors.append(
                f'line {start + 1}, column {column}: unknown column "{raw.strip()}" '
                f"(the columns are {_COLUMN_LIST})."
            )
        elif field_name in fields:
            errors.append(
                f'line {start + 1}, column {column}: column "{raw.strip()}" is given twice.'
            )
        fields.append(field_name or "")
    if not errors and "recipient" not in fields:
        errors.append(f'line {start + 1}: the header has no "recipient" column.')
    if errors:
        return [], errors
    items: list[tuple[int, str, dict[str, str | int]]] = []
    for number in range(start + 2, len(lines) + 1):
        line = lines[number - 1]
        if not line.strip() or line.startswith("#"):
            continue
        try:
            cells = next(csv.reader([line], dialect))
        except csv.Error as error:
            errors.append(f"line {number}: {error}.")
            continue
        if len(cells) != len(fields):
            errors.append(
                f"line {number}: {len(cells)} column{'s' if len(cells) != 1 else ''}, "
                f"but the header names {len(fields)}."
            )
            continue
        values: dict[str, str | int] = {}
        recipient = ""
        for column, (name, cell) in enumerate(zip(fields, cells, strict=True), start=1):
            cell = cell.strip()
            if name == "recipient":
                recipient = cell.strip("<>")
            elif name in ("size", "retries"):
                if not cell:
                    continue
                if not (cell.isascii() and cell.isdigit()) or len(cell) > 15:
                    errors.append(
                        f'line {number}, column {column} ({name}): "{cell[:40]}" is not a '
                        "whole number of 0 or more."
                    )
                    break
                values[name] = int(cell)
            else:
                values[name] = "" if cell == "<>" else cell
        else:
            if not recipient:
                errors.append(f"line {number}: the recipient is empty.")
            else:
                items.append((number, recipient, values))
        if len(errors) >= MAX_ERRORS:
            break
    found, more = _collect(items)
    return found, sorted(errors + more, key=_line_of)


def _line_of(error: str) -> int:
    match = re.match(r"line (\d+)", error)
    return int(match[1]) if match else 0


def _dialect(header: str) -> type[csv.Dialect]:
    class Dialect(csv.excel):
        delimiter = max(",;\t", key=header.count)

    return Dialect


# ---------------------------------------------------------------- DNS


class BatchResolver:
    """In front of a resolver for one batch: every question asked once (failures too),
    and after `seconds` no more questions — the answer is a temporary failure."""

    def __init__(
        self, resolver: Resolver, seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._bounded = TimeBoundResolver(
            resolver, seconds, clock, reason="the analysis used up its time for DNS lookups"
        )
        self._answers: dict[tuple[str, str], MxAnswer] = {}
        self._lock = threading.Lock()

    def lookup_mx(self, domain: str) -> MxAnswer:
        return self._ask("mx", self._bounded.lookup_mx, domain)

    def lookup_implicit_mx(self, domain: str) -> MxAnswer:
        return self._ask("implicit", self._bounded.lookup_implicit_mx, domain)

    def _ask(self, kind: str, lookup: Callable[[str], MxAnswer], domain: str) -> MxAnswer:
        key = (kind, domain)
        with self._lock:
            known = self._answers.get(key)
        if known is not None:
            return known
        answer = lookup(domain)
        with self._lock:
            return self._answers.setdefault(key, answer)


class _NeedsDns(Exception):
    pass


class _Offline:
    """A resolver that knows nothing: evaluating without it tells which domains need DNS."""

    def lookup_mx(self, domain: str) -> MxAnswer:
        raise _NeedsDns

    def lookup_implicit_mx(self, domain: str) -> MxAnswer:
        raise _NeedsDns


# ---------------------------------------------------------------- comparing


def route_text(result: Result) -> str:
    """Status and ordered hops, without passwords: `override: relay.example:587, MX mx1.example`."""
    if not result.hops:
        return result.status
    hops = []
    for hop in result.hops:
        host = f"[{hop.host}]" if ":" in hop.host else hop.host
        text = f"{host}:{hop.port}"
        if hop.username is not None:
            password = PASSWORD_MASK if hop.password_set else ""
            text = f"{hop.username}:{password}@{text}"
        hops.append(f"MX {text}" if hop.source == "dns" else text)
    return f"{result.status}: {', '.join(hops)}"


def _group_text(result: Result) -> str:
    """The route with the DNS hosts (different for every domain) summed up as one item."""
    if not any(hop.source == "dns" for hop in result.hops):
        return route_text(result)
    hops: list[str] = []
    for hop in result.hops:
        if hop.source == "dns":
            if "the domain's MX hosts" not in hops:
                hops.append("the domain's MX hosts")
            continue
        host = f"[{hop.host}]" if ":" in hop.host else hop.host
        text = f"{host}:{hop.port}"
        if hop.username is not None:
            text = f"{hop.username}:{PASSWORD_MASK if hop.password_set else ''}@{text}"
        hops.append(text)
    return f"{result.status}: {', '.join(hops)}"


@dataclass(frozen=True, slots=True)
class RecipientImpact:
    recipient: Recipient
    old: Result
    new: Result
    old_route: str
    new_route: str

    @property
    def changed(self) -> bool:
        return self.old_route != self.new_route


@dataclass
class ImpactGroup:
    old_route: str
    new_route: str
    count: int = 0
    examples: list[RecipientImpact] = field(default_factory=list)
    members: list[RecipientImpact] = field(default_factory=list)


@dataclass
class Impact:
    rows: list[RecipientImpact]
    groups: list[ImpactGroup]  # changed routes only, the biggest group first
    seconds: float = 0.0

    @property
    def changed(self) -> int:
        return sum(group.count for group in self.groups)

    @property
    def unchanged(self) -> int:
        return len(self.rows) - self.changed

    def as_dict(self) -> dict[str, object]:
        """The stable structure of `manage.py route --batch --json`."""
        return {
            "recipients": len(self.rows),
            "changed": self.changed,
            "unchanged": self.unchanged,
            "groups": [
                {
                    "old_route": group.old_route,
                    "new_route": group.new_route,
                    "count": group.count,
                    "examples": [row.recipient.address for row in group.examples],
                }
                for group in self.groups
            ],
        }


def compare_tables(
    old: CompiledTable,
    new: CompiledTable,
    recipients: Sequence[Recipient],
    resolver: Resolver,
    *,
    dns_seconds: float = 10.0,
    workers: int = DNS_WORKERS,
    examples: int = EXAMPLES_PER_GROUP,
    old_word: str = "rule",
    new_word: str = "line",
) -> Impact:
    """Evaluate every recipient against both tables; group the changed routes.

    The domains whose routes need no DNS answer are evaluated first, in this
    thread; the others then run one task per domain on at most `workers` threads,
    so that each question is asked once and slow answers overlap. DNS stops after
    `dns_seconds` (the rest: defer). `old_word`/`new_word`: what each table's numbers
    count in the reasons and traces ("rule" for a stored table, "line" for a text).
    """
    started = time.perf_counter()
    batch = BatchResolver(resolver, dns_seconds)
    by_domain: dict[str, list[int]] = {}
    for index, recipient in enumerate(recipients):
        by_domain.setdefault(recipient.message.domain, []).append(index)
    rows: list[RecipientImpact | None] = [None] * len(recipients)
    groups_of: list[tuple[str, str]] = [("", "")] * len(recipients)

    def run(indexes: list[int], resolver: Resolver) -> None:
        # Recipients of a domain with the same attributes share one Message.
        seen: dict[Message, tuple[Result, Result, str, str, str, str]] = {}
        for index in indexes:
            message = recipients[index].message
            done = seen.get(message)
            if done is None:
                before = evaluate(old, message, resolver, word=old_word)
                after = evaluate(new, message, resolver, word=new_word)
                done = (
                    before,
                    after,
                    route_text(before),
                    route_text(after),
                    _group_text(before),
                    _group_text(after),
                )
                seen[message] = done
            rows[index] = RecipientImpact(recipients[index], done[0], done[1], done[2], done[3])
            groups_of[index] = (done[4], done[5])

    offline = _Offline()
    needs_dns = []
    for task in by_domain.values():
        try:
            run(task, offline)
        except _NeedsDns:
            needs_dns.append(task)
    if workers <= 1 or len(needs_dns) <= 1:
        for task in needs_dns:
            run(task, batch)
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="impact") as pool:
            for _ in pool.map(lambda task: run(task, batch), needs_dns):
                pass
    done_rows = [row for row in rows if row is not None]
    groups: dict[tuple[str, str], ImpactGroup] = {}
    for row, labels in zip(done_rows, groups_of, strict=True):
        if not row.changed:
            continue
        group = groups.get(labels)
        if group is None:
            group = groups[labels] = ImpactGroup(*labels)
        group.count += 1
        group.members.append(row)
        if len(group.examples) < examples:
            group.examples.append(row)
    ordered = sorted(groups.values(), key=lambda g: (-g.count, g.old_route, g.new_route))
    return Impact(done_rows, ordered, time.perf_counter() - started)


def impact_csv_rows(impact: Impact) -> Iterable[tuple[str, str, str, str]]:
    """recipient, old route, new route, changed ("yes"/"no"): one row per recipient.

    A recipient that a spreadsheet would read as a formula gets a leading "'"."""
    yield ("recipient", "old route", "new route", "changed")
    for row in impact.rows:
        changed = "yes" if row.changed else "no"
        recipient = row.recipient.address
        # A spreadsheet would run "=HYPERLINK(…)@x.example" as a formula (CSV injection).
        if recipient.startswith(("=", "+", "-", "@", "\t", "\r")):
            recipient = "'" + recipient
        yield (recipient, row.old_route, row.new_route, changed)


def format_impact(impact: Impact) -> str:
    """The groups as text (`manage.py route --batch`)."""
    total = len(impact.rows)
    lines = [
        f"recipients: {total}",
        f"changed: {impact.changed}",
        f"unchanged: {impact.unchanged}",
    ]
    for group in impact.groups:
        lines.append("")
        lines.append(f"{group.count}: {group.old_route} → {group.new_route}")
        for row in group.examples:
            lines.append(f"  {row.recipient.address}")
        if group.count > len(group.examples):
            lines.append(f"  … and {group.count - len(group.examples)} more")
    return "\n".join(lines) + "\n"
