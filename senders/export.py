"""The export for delivery agents: tokens, the cached body per revision, fetch records.

Tokens are 256-bit random strings, shown once and stored only as their SHA-256
(a slow password hash buys nothing for a secret this long); checking one always
runs the same constant-time comparison, whether the sender exists or not.

The body of a sender's export is a function of one table revision: it is built
from that revision's snapshot (immutable, so there is no race with an editor
saving at the same moment) by the engine's formatter, once per revision, and kept
in Django's cache with its ETag, keyed by the revision number. A poll costs one
small query (the sender's row) when its body is cached.

Fetches are recorded on the sender (when, from which address, which revision),
but the row is only written when the address or the revision changed, or when
the last record is older than FETCH_RECORD_INTERVAL: agents poll every few
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
from senders.models import MailSender, Revision
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


# What a poll reads of the sender: one small row, the only query of a poll that
# finds its body cached and needs no fetch record.
EXPORT_FIELDS = (
    "id",
    "slug",
    "enabled",
    "revision",
    "created_at",
    "export_token_hash",
    "last_fetched_at",
    "last_fetched_by",
    "last_fetched_revision",
)


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
    """`MailSender.objects.only(*EXPORT_FIELDS).filter(slug=slug).first()`, written out.

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
    return MailSender.from_db(connection.alias, EXPORT_FIELDS, values)


Converter = tuple[int, Callable[[Any, Any, Any], Any], Any]


@functools.cache
def _export_query(alias: str) -> tuple[str, list[Converter]]:
    connection = connections[alias]
    meta = MailSender._meta
    quote = connection.ops.quote_name
    fields = [meta.get_field(name) for name in EXPORT_FIELDS]
    columns = ", ".join(quote(field.column) for field in fields)
    slug = quote(meta.get_field("slug").column)
    # Names from the model, quoted; the slug is a parameter.
    sql = f"SELECT {columns} FROM {quote(meta.db_table)} WHERE {slug} = %s"  # noqa: S608
    converters = []
    for index, field in enumerate(fields):
        expression = field.get_col(meta.db_table)
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
    return {
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


def record_fetch(sender: MailSender, remote_addr: str, revision: int) -> bool:
    """Note that delivery fetched `revision`; True if the row was written."""
    now = timezone.now()
    remote_addr = (remote_addr or "")[:100]
    if (
        sender.last_fetched_revision == revision
        and sender.last_fetched_by == remote_addr
        and sender.last_fetched_at is not None
        and now - sender.last_fetched_at < FETCH_RECORD_INTERVAL
    ):
        return False
    # update(), not save(): touches only these columns (and not updated_at), so a
    # poll never overwrites an admin's concurrent edit of the sender.
    MailSender.objects.filter(pk=sender.pk).update(
        last_fetched_at=now, last_fetched_by=remote_addr, last_fetched_revision=revision
    )
    sender.last_fetched_at, sender.last_fetched_by = now, remote_addr
    sender.last_fetched_revision = revision
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
