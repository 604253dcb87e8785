"""The export for delivery agents: tokens, the cached body per revision, fetch records.

Tokens are 256-bit random strings, shown once and stored only as their SHA-256
(a slow password hash buys nothing for a secret this long); checking one always
runs the same constant-time comparison, whether the sender exists or not.

The body of a sender's export is a function of one table revision: it is built
from that revision's snapshot (immutable, so there is no race with an editor
saving at the same moment) by the engine's formatter, once per revision, and kept
in Django's cache with its ETag, keyed by the revision number. A poll costs one
small query (the sender's row) when its body is cached.

Fetches are recorded (when, from which address, which revision) in a row of their
own, `ExportFetch`, never on the sender's row: a save holds that row's lock for its
whole transaction, and a poll must not wait for it. The record is read with the
sender in the poll's one query and only written when the address or the revision
changed, or when it is older than FETCH_RECORD_INTERVAL: agents poll every few
seconds, and the admin needs "delivery has this revision", not every poll.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from django.core.cache import cache
from django.db import connections, router
from django.utils import timezone
from django.utils.timesince import timesince

from senders.engine import Condition, Rule, format_rule, format_table
from senders.models import ExportFetch, MailSender, Revision
from senders.tables import enabled_rules
from senders.tabletext import parse_document, rule_at

Kind = Literal["txt", "json"]

FETCH_RECORD_INTERVAL = timedelta(seconds=60)
CACHE_SECONDS = 24 * 3600
# A token from a header or a URL longer than this is wrong without hashing it.
MAX_TOKEN_LENGTH = 200

CONTENT_TYPES: dict[Kind, str] = {
    "txt": "text/plain; charset=utf-8",
    "json": "application/json",
}

# Compared against when there is no stored hash, so that an unknown sender and a
# wrong token take the same path.
_NO_TOKEN_HASH = hashlib.sha256(secrets.token_bytes(32)).hexdigest()


# ---------------------------------------------------------------- tokens


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create_token(sender: MailSender) -> str:
    """A new token for `sender`, replacing (and so invalidating) any previous one.

    The token is returned once; only its hash is stored.
    """
    token = secrets.token_urlsafe(32)
    sender.export_token_hash = hash_token(token)
    sender.export_token_created_at = timezone.now()
    sender.save(update_fields=["export_token_hash", "export_token_created_at"])
    return token


def revoke_token(sender: MailSender) -> None:
    sender.export_token_hash = ""
    sender.export_token_created_at = None
    sender.save(update_fields=["export_token_hash", "export_token_created_at"])


# What a poll reads: one small row of the sender and its fetch record (if any), the
# only query of a poll that finds its body cached and needs no new fetch record.
EXPORT_FIELDS = (
    "id",
    "slug",
    "enabled",
    "revision",
    "created_at",
    "export_token_hash",
)
FETCH_FIELDS = ("at", "by", "revision", "agent")


def sender_for_token(slug: str, token: str | None) -> MailSender | None:
    """The sender if `token` is its export token; None for every other case alike."""
    sender = _sender_for_export(slug)
    stored = sender.export_token_hash if sender is not None else ""
    given = token if token and len(token) <= MAX_TOKEN_LENGTH else ""
    matches = hmac.compare_digest(hash_token(given), stored or _NO_TOKEN_HASH)
    if matches and sender is not None and stored and given:
        return sender
    return None


def _sender_for_export(slug: str) -> MailSender | None:
    """`MailSender.objects.only(*EXPORT_FIELDS).select_related("fetch").filter(slug=slug)
    .first()` (with only FETCH_FIELDS of the fetch record), written out.

    Every poll of every delivery agent runs this. Through the ORM the lookup took
    0.62 ms, written out 0.19 ms, on a poll that otherwise costs about as much as
    an empty view (bench/export.py).
    """
    connection = connections[router.db_for_read(MailSender)]
    sql, converters = _export_query(connection.alias)
    with connection.cursor() as cursor:
        cursor.execute(sql, [slug])
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for index, convert, expression in converters:  # as the ORM does (SQLite's dates)
        values[index] = convert(values[index], expression, connection)
    sender = MailSender.from_db(connection.alias, EXPORT_FIELDS, values[: len(EXPORT_FIELDS)])
    fetched = values[len(EXPORT_FIELDS) :]
    record = None
    if fetched[0] is not None:  # `at` is never NULL in a record
        record = ExportFetch.from_db(
            connection.alias, ("sender", *FETCH_FIELDS), [sender.pk, *fetched]
        )
    MailSender.fetch.related.set_cached_value(sender, record)  # type: ignore[attr-defined]
    return sender


Converter = tuple[int, Callable[[Any, Any, Any], Any], Any]


@functools.cache
def _export_query(alias: str) -> tuple[str, list[Converter]]:
    connection = connections[alias]
    meta, fetch_meta = MailSender._meta, ExportFetch._meta
    quote = connection.ops.quote_name
    sender_table, fetch_table = quote(meta.db_table), quote(fetch_meta.db_table)
    fields = [(meta.db_table, meta.get_field(name)) for name in EXPORT_FIELDS]
    fields += [(fetch_meta.db_table, fetch_meta.get_field(name)) for name in FETCH_FIELDS]
    columns = ", ".join(f"{quote(table)}.{quote(field.column)}" for table, field in fields)
    slug = quote(meta.get_field("slug").column)
    key = quote(meta.pk.column)
    fetch_key = quote(fetch_meta.get_field("sender").column)
    # Names from the models, quoted; the slug is a parameter.
    sql = (
        f"SELECT {columns} FROM {sender_table} LEFT OUTER JOIN {fetch_table} "  # noqa: S608
        f"ON {fetch_table}.{fetch_key} = {sender_table}.{key} "
        f"WHERE {sender_table}.{slug} = %s"
    )
    converters = []
    for index, (table, field) in enumerate(fields):
        expression = field.get_col(table)
        for convert in [
            *connection.ops.get_db_converters(expression),
            *field.get_db_converters(connection),
        ]:
            converters.append((index, convert, expression))
    return sql, converters


# ---------------------------------------------------------------- the body


@dataclass(frozen=True)
class Export:
    body: bytes
    etag: str
    content_type: str
    revision: int
    last_modified: datetime | None


def export_of(sender: MailSender, kind: Kind = "txt") -> Export:
    """The export of the sender's current revision, rendered at most once per revision.

    Raises OverrideSyntaxError if the stored table no longer parses (the view
    answers 503: an agent should keep its last good copy).
    """
    # A revision number names one table for good (every change gets a new one);
    # created_at tells apart a sender deleted and created again under the same id;
    # the slug is in the JSON body, and a rename does not make a new revision.
    key = (
        f"senders:export:{kind}:{sender.pk}:{sender.created_at.timestamp()}:{sender.revision}"
        f":{sender.slug}"
    )
    export: Export | None = cache.get(key)
    if export is None:
        latest = (
            Revision.objects.filter(sender=sender, number=sender.revision)
            .values_list("document", "created_at")
            .first()
        )
        rules = _rules_at(sender, latest[0] if latest else None)
        body = _render(sender, rules, kind)
        export = Export(
            body=body,
            etag=f'"{hashlib.sha256(body).hexdigest()}"',
            content_type=CONTENT_TYPES[kind],
            revision=sender.revision,
            last_modified=latest[1] if latest else None,
        )
        cache.set(key, export, CACHE_SECONDS)
    return export


def export_body(sender: MailSender, kind: Kind = "txt") -> bytes:
    """Exactly the bytes the export URL serves (used by `manage.py export_overrides`)."""
    return export_of(sender, kind).body


def _rules_at(sender: MailSender, document: str | None) -> list[Rule]:
    """Enabled rules of one revision's document, numbered by their place in the table."""
    if document is None:
        # No revision recorded: the table was never changed (it is empty); the
        # rows are read all the same rather than assumed.
        return enabled_rules(sender)
    entries = parse_document(document)
    return [
        rule_at(entry.text, position)
        for position, entry in enumerate(entries, start=1)
        if entry.enabled
    ]


def _render(sender: MailSender, rules: list[Rule], kind: Kind) -> bytes:
    if kind == "txt":
        return format_table(rules).encode("utf-8")
    document = {
        "sender": sender.slug,
        "rules": [_rule_json(line, rule) for line, rule in enumerate(rules, start=1)],
    }
    # ensure_ascii: valid JSON (and plain ASCII) whatever characters a rule holds.
    return (json.dumps(document, indent=2, ensure_ascii=True) + "\n").encode("ascii")


def _rule_json(line: int, rule: Rule) -> dict[str, Any]:
    server = rule.server
    # "rule": the rule's position in the table (disabled rules count), as every page
    # numbers it; "position" is the same number, kept for agents that read it;
    # "line": the rule's line in the .txt export (which leaves disabled rules out).
    return {
        "rule": rule.line,
        "line": line,
        "position": rule.line,
        "text": format_rule(rule),
        "domain": rule.domain,
        "server": {
            "host": server.host,
            "port": server.port,
            "username": server.username,
            "password": server.password,
        },
        "conditions": [
            {
                "attribute": c.attribute,
                "operator": c.operator,
                "value": int(c.value) if c.attribute in ("retries", "size") else c.value,
            }
            if isinstance(c, Condition)
            else {"attribute": "dnsmx", "pattern": c.pattern, "negate": c.negate}
            for c in rule.conditions
        ],
        "end": rule.end,
        "adddns": rule.adddns,
        "priority": rule.priority,
        "preference": rule.preference,
    }


# ---------------------------------------------------------------- fetch records


def record_fetch(sender: MailSender, remote_addr: str, revision: int, agent: str = "") -> bool:
    """Note that delivery fetched `revision`; True if the record was written.

    One statement on the record's own row (an upsert): it never touches the sender's
    row, so it never waits for a save holding that row's lock.
    """
    now = timezone.now()
    remote_addr = (remote_addr or "")[:100]
    agent = agent[:100]
    last = sender.fetch_record
    if (
        last is not None
        and last.revision == revision
        and last.by == remote_addr
        and last.agent == agent
        and now - last.at < FETCH_RECORD_INTERVAL
    ):
        return False
    record = ExportFetch(
        sender_id=sender.pk, at=now, by=remote_addr, revision=revision, agent=agent
    )
    ExportFetch.objects.bulk_create(
        [record],
        update_conflicts=True,
        unique_fields=["sender"],
        update_fields=list(FETCH_FIELDS),
    )
    MailSender.fetch.related.set_cached_value(sender, record)  # type: ignore[attr-defined]
    return True


@dataclass(frozen=True)
class ExportStatus:
    """What the sender page tells about delivery (`templates/senders/_export_status.html`)."""

    sender: MailSender
    has_token: bool
    token_created_at: datetime | None
    last_fetched_at: datetime | None
    last_fetched_by: str
    last_fetched_revision: int | None
    revision: int

    @property
    def fetched(self) -> bool:
        return self.last_fetched_at is not None

    @property
    def up_to_date(self) -> bool:
        return self.last_fetched_revision == self.revision

    @property
    def fetched_ago(self) -> str:
        """ "just now" or "3 minutes ago": how long since delivery last fetched."""
        if self.last_fetched_at is None:
            return ""
        if timezone.now() - self.last_fetched_at < timedelta(minutes=1):
            return "just now"
        return f"{timesince(self.last_fetched_at)} ago"


def export_status(sender: MailSender) -> ExportStatus:
    return ExportStatus(
        sender=sender,
        has_token=bool(sender.export_token_hash),
        token_created_at=sender.export_token_created_at,
        last_fetched_at=sender.last_fetched_at,
        last_fetched_by=sender.last_fetched_by,
        last_fetched_revision=sender.last_fetched_revision,
        revision=sender.revision,
    )
