"""Every change to a sender's table goes through here.

Each function runs in one transaction that first locks the sender's row, so two
editors working on one table are serialised: positions stay dense (1..n) and
unique, the table's revision number goes up by one, and a `Revision` snapshot is
written. A caller that shows the user a table passes the revision it showed as
`expected_revision`; if someone saved in between, `StaleTable` is raised and
nothing is written.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from django.db import connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from senders import changelog
from senders.engine import PASSWORD_MASK, Rule, format_rule, format_table, parse_rule
from senders.engine.parse import RegexBudget, count_regexes
from senders.fields import seal_passwords
from senders.models import MailSender, OverrideRule, Revision, WarningAcknowledgement
from senders.tabletext import (
    Entry,
    format_document,
    known_passwords,
    restore_passwords,
    rule_at,
)

# Positions are moved out of the way by this much before being moved back, so that
# shifting a range never collides with the unique (sender, position) constraint.
_PARK = 1_000_000_000


class StaleTable(Exception):
    """The table changed since the caller showed it to the user."""

    def __init__(self, sender: MailSender, expected: int) -> None:
        self.sender = sender
        self.expected = expected
        self.current = sender.revision
        super().__init__(
            f"This table was changed by someone else since you opened it "
            f"(you saw revision {expected}, it is now at revision {sender.revision}). "
            "Your text is kept below; review the changes and save again."
        )


@dataclass(frozen=True)
class Actor:
    """Who makes a change and through which door: recorded in the revision."""

    user: Any = None
    source: str = Revision.Source.EDITOR
    remote_addr: str | None = None
    message: str = ""

    @property
    def user_or_none(self) -> Any:
        return self.user if getattr(self.user, "is_authenticated", False) else None


@dataclass
class Change:
    sender: MailSender
    revision: Revision
    rule: OverrideRule | None = None
    entries: list[Entry] = field(default_factory=list)
    # The whole table after the change, each entry numbered by its position, as the
    # revision's snapshot was made of it (senders.lint lints it without reading the
    # table again); None after replace_table.
    table: list[Entry] | None = None


# ---------------------------------------------------------------- reading


def entries_of(sender: MailSender) -> list[Entry]:
    rows = sender.rules.order_by("position").values_list("text", "enabled", "comment", "position")
    return [Entry(text, enabled, comment, position) for text, enabled, comment, position in rows]


def document_of(sender: MailSender, *, mask_passwords: bool = False) -> str:
    return format_document(entries_of(sender), mask_passwords=mask_passwords)


def enabled_rules(sender: MailSender) -> list[Rule]:
    """The rules delivery evaluates, numbered by their position in the table."""
    rows = sender.rules.filter(enabled=True).order_by("position").values_list("text", "position")
    return [rule_at(text, position) for text, position in rows]


def export_text(sender: MailSender) -> str:
    return format_table(enabled_rules(sender))


def load_rules(slug: str) -> list[Rule]:
    """Enabled rules of a stored sender (used by `manage.py route --sender`)."""
    return enabled_rules(MailSender.objects.get(slug=slug))


# ---------------------------------------------------------------- writing


def _lock(sender: MailSender, expected_revision: int | None) -> MailSender:
    locked = MailSender.objects.select_for_update().get(pk=sender.pk)
    if expected_revision is not None and locked.revision != expected_revision:
        raise StaleTable(locked, expected_revision)
    return locked


def _shift(sender: MailSender, first: int, last: int | None, delta: int) -> None:
    """Add delta to every position in [first, last] without unique collisions.

    Where the (sender, position) constraint is checked at the end of the statement
    (PostgreSQL, senders.models.UniqueAtStatementEnd) one UPDATE does it; elsewhere
    the rows are parked out of the way first. By position range, not by a list of
    ids: renumbering the 10,000 rules after a deleted one took two UPDATEs naming
    10,000 ids each (0.37 s on PostgreSQL; now one UPDATE, about 0.06 s)."""
    rows = OverrideRule.objects.filter(sender=sender, position__gte=first)
    if last is not None:
        rows = rows.filter(position__lte=last)
    if connections[rows.db].features.supports_deferrable_unique_constraints:
        rows.update(position=F("position") + delta)
        return
    rows.update(position=F("position") + _PARK)
    parked = OverrideRule.objects.filter(sender=sender, position__gte=first + _PARK)
    if last is not None:
        parked = parked.filter(position__lte=last + _PARK)
    parked.update(position=F("position") - _PARK + delta)


# The whole table at the last revision this process committed, for a few senders: the
# next change to one of them makes its snapshot from it and the change (`edit`)
# instead of reading every rule again (10,000 rules: 17 ms). Kept once the transaction
# has committed, and used only while the locked sender is still at that revision, so
# it is what the database holds. (Every change to a table bumps its revision.)
KEPT_TABLES = 8
_kept: dict[int, tuple[float, int, tuple[Entry, ...]]] = {}
_keeping = threading.Lock()

Edit = Callable[[list[Entry]], list[Entry]]


def _kept_table(sender: MailSender) -> list[Entry] | None:
    kept = _kept.get(sender.pk)
    if kept is None or kept[:2] != (sender.created_at.timestamp(), sender.revision):
        return None
    return list(kept[2])


def _keep(sender: MailSender, table: list[Entry]) -> None:
    key = (sender.created_at.timestamp(), sender.revision, tuple(table))

    def keep() -> None:
        with _keeping:
            _kept.pop(sender.pk, None)
            _kept[sender.pk] = key
            while len(_kept) > KEPT_TABLES:
                del _kept[next(iter(_kept))]

    transaction.on_commit(keep)


def forget_tables() -> None:
    """Forget every kept table (benchmarks measuring a cold start; tests)."""
    with _keeping:
        _kept.clear()


def _numbered(entries: Sequence[Entry], first: int) -> list[Entry]:
    """`entries` numbered first, first + 1, …"""
    return [
        entry if entry.line == number else Entry(entry.text, entry.enabled, entry.comment, number)
        for number, entry in enumerate(entries, start=first)
    ]


def _record(
    sender: MailSender,
    actor: Actor,
    document: str | None = None,
    summary: str = "",
    *,
    rule: OverrideRule | None = None,
    edit: Edit | None = None,
) -> Change:
    """Bump the revision and snapshot the table (`document`, if the caller has it).

    `summary` (senders.changelog) says what changed, for a history without messages.
    `edit` makes the table after the change from the table before it (entries
    numbered by position), when this process kept that one (see `_kept`); otherwise
    the table is read.
    """
    table = None
    if document is None:
        kept = _kept_table(sender) if edit is not None else None
        table = entries_of(sender) if kept is None or edit is None else edit(kept)
        document = format_document(table)
    sender.revision += 1
    MailSender.objects.filter(pk=sender.pk).update(revision=sender.revision)
    revision = Revision.objects.create(
        sender=sender,
        number=sender.revision,
        document=document,
        author=actor.user_or_none,
        source=actor.source,
        remote_addr=actor.remote_addr or None,
        message=actor.message[:500],
        summary=summary[: changelog.MAX_SUMMARY],
    )
    if table is not None:
        _keep(sender, table)
    return Change(sender, revision, rule, table=table)


def _check_regexes(sender: MailSender, rule: Rule, text: str, replacing: int | None) -> None:
    """A table holds at most MAX_REGEXES_PER_TABLE regexes, added one rule at a time too."""
    count = count_regexes(rule)
    if not count:
        return
    stored = sender.rules.filter(Q(text__contains="~=/") | Q(text__contains="~!/"))
    if replacing is not None:
        stored = stored.exclude(pk=replacing)
    used = sum(count_regexes(t) for t in stored.values_list("text", flat=True))
    if (error := RegexBudget(used).add(count, 1, text.find("/") + 1)) is not None:
        raise error


def canonical(
    text: str,
    sender: MailSender,
    keep_password_of: Sequence[str] = (),
    replacing: int | None = None,
) -> str:
    """Canonical form of one rule; PASSWORD_MASK keeps the password of a stored rule.

    Raises OverrideSyntaxError, with the caller's text positions.
    """
    rule = parse_rule(text.strip("\r\n"))
    _check_regexes(sender, rule, text, replacing)
    entry = Entry(format_rule(rule), line=1)
    if keep_password_of:
        entry = restore_passwords([entry], known_passwords(keep_password_of))[0]
    else:
        entry = restore_passwords(
            [entry], known_passwords(sender.rules.exclude(text="").values_list("text", flat=True))
        )[0]
    return entry.text


@transaction.atomic
def add_rule(
    sender: MailSender,
    text: str,
    *,
    actor: Actor,
    enabled: bool = True,
    comment: str = "",
    position: int | None = None,
    expected_revision: int | None = None,
) -> Change:
    """Insert a rule at `position` (1-based; None or past the end: at the end)."""
    sender = _lock(sender, expected_revision)
    text = canonical(text, sender)
    count = sender.rules.count()
    if position is None or position > count:
        position = count + 1
    position = max(position, 1)
    _shift(sender, position, None, +1)
    rule = OverrideRule.objects.create(
        sender=sender,
        position=position,
        text=text,
        enabled=enabled,
        comment=comment,
        updated_by=actor.user_or_none,
    )
    added = Entry(text, enabled, comment, position)

    def edit(table: list[Entry]) -> list[Entry]:
        return [*table[: position - 1], added, *_numbered(table[position - 1 :], position + 1)]

    return _record(sender, actor, summary=changelog.added(position, text), rule=rule, edit=edit)


@transaction.atomic
def update_rule(
    rule: OverrideRule,
    *,
    actor: Actor,
    text: str | None = None,
    enabled: bool | None = None,
    comment: str | None = None,
    expected_revision: int | None = None,
) -> Change:
    sender = _lock(rule.sender, expected_revision)
    rule = OverrideRule.objects.get(pk=rule.pk, sender=sender)
    before = Entry(rule.text, rule.enabled, rule.comment)
    if text is not None:
        rule.text = canonical(text, sender, keep_password_of=[rule.text], replacing=rule.pk)
    if enabled is not None:
        rule.enabled = enabled
    if comment is not None:
        rule.comment = comment
    rule.updated_by = actor.user_or_none
    rule.save()
    after = Entry(rule.text, rule.enabled, rule.comment)
    summary = changelog.changed(rule.position, before, after)
    position = rule.position

    def edit(table: list[Entry]) -> list[Entry]:
        table[position - 1] = replace(after, line=position)
        return table

    return _record(sender, actor, summary=summary, rule=rule, edit=edit)


@transaction.atomic
def delete_rule(
    rule: OverrideRule, *, actor: Actor, expected_revision: int | None = None
) -> Change:
    sender = _lock(rule.sender, expected_revision)
    rule = OverrideRule.objects.get(pk=rule.pk, sender=sender)
    position = rule.position
    rule.delete()
    _shift(sender, position + 1, None, -1)
    summary = changelog.removed(position, rule.text)

    def edit(table: list[Entry]) -> list[Entry]:
        return [*table[: position - 1], *_numbered(table[position:], position)]

    return _record(sender, actor, summary=summary, rule=rule, edit=edit)


@transaction.atomic
def move_rule(
    rule: OverrideRule, to: int, *, actor: Actor, expected_revision: int | None = None
) -> Change:
    """Move a rule to position `to` (clamped to the table), the others close up."""
    sender = _lock(rule.sender, expected_revision)
    rule = OverrideRule.objects.get(pk=rule.pk, sender=sender)
    count = sender.rules.count()
    to = min(max(to, 1), count)
    start = rule.position
    if to != start:
        OverrideRule.objects.filter(pk=rule.pk).update(position=0)
        if to < start:
            _shift(sender, to, start - 1, +1)
        else:
            _shift(sender, start + 1, to, -1)
        OverrideRule.objects.filter(pk=rule.pk).update(position=to)
        rule.position = to

    def edit(table: list[Entry]) -> list[Entry]:
        low, high = min(start, to), max(start, to)
        moved = table[start - 1]
        between = [moved, *table[to - 1 : start - 1]] if to < start else [*table[start:to], moved]
        return [*table[: low - 1], *_numbered(between, low), *table[high:]]

    return _record(sender, actor, summary=changelog.moved(start, to), rule=rule, edit=edit)


@transaction.atomic
def replace_table(
    sender: MailSender,
    entries: Iterable[Entry],
    *,
    actor: Actor,
    expected_revision: int | None = None,
) -> Change:
    """Replace the whole table (bulk editor, import, rollback, Django admin).

    `entries` come from tabletext.parse_document(); masked passwords are restored
    from the stored rules. All or nothing: on any error nothing is written.
    """
    sender = _lock(sender, expected_revision)
    entries = list(entries)
    if any(PASSWORD_MASK in entry.text for entry in entries):
        stored = known_passwords(sender.rules.values_list("text", flat=True))
        entries = restore_passwords(entries, stored)
    old = entries_of(sender) if actor.source != Revision.Source.IMPORT else None
    acknowledged = _take_acknowledgements(sender)
    _delete_rules(sender)
    _insert_rules(sender, entries, actor.user_or_none)
    if acknowledged:
        _give_back_acknowledgements(sender, acknowledged)
    document = format_document(entries)  # what document_of() would read back
    summary = changelog.replaced(actor.source, old, entries)
    change = _record(sender, actor, document, summary)
    change.entries = entries
    return change


def _take_acknowledgements(sender: MailSender) -> dict[str, list[list[WarningAcknowledgement]]]:
    """Remove the sender's acknowledged warnings; return those that still hold (given for
    the rule's present text), by rule text, one list per rule in table order."""
    kept: dict[str, list[list[WarningAcknowledgement]]] = {}
    acks = WarningAcknowledgement.objects.filter(rule__sender=sender).select_related("rule")
    by_rule: dict[int, list[WarningAcknowledgement]] = {}
    for ack in sorted(acks, key=lambda ack: (ack.rule.position, ack.code)):
        if ack.text == ack.rule.text:
            by_rule.setdefault(ack.rule.pk, []).append(ack)
    for held in by_rule.values():
        kept.setdefault(held[0].text, []).append(held)
    if acks:
        WarningAcknowledgement.objects.filter(rule__sender=sender).delete()
    return kept


def _give_back_acknowledgements(
    sender: MailSender, kept: dict[str, list[list[WarningAcknowledgement]]]
) -> None:
    """A rule whose text the new table keeps keeps its acknowledged warnings (with who and
    when): a bulk save that leaves a line alone does not make its warnings shout again.
    Rules with the same text take them in table order."""
    new: list[WarningAcknowledgement] = []
    for pk, text in sender.rules.order_by("position").values_list("pk", "text"):
        if kept.get(text):
            for ack in kept[text].pop(0):
                ack.pk, ack.rule_id = None, pk
                new.append(ack)
    created_at = [ack.created_at for ack in new]
    WarningAcknowledgement.objects.bulk_create(new)  # sets created_at to now: put it back
    for ack, when in zip(new, created_at, strict=True):
        WarningAcknowledgement.objects.filter(pk=ack.pk).update(created_at=when)


def _delete_rules(sender: MailSender) -> None:
    """Every rule of the sender in one DELETE. Their acknowledgements, the only rows that
    refer to a rule, are gone already: Django's delete() would read every rule first to
    look for them (10,000 rules: about 0.3 s of a bulk save's 0.7 s, bench/pages.py)."""
    connection = connections[OverrideRule.objects.db]
    table = connection.ops.quote_name(OverrideRule._meta.db_table)
    column = connection.ops.quote_name(OverrideRule._meta.get_field("sender").column)
    with connection.cursor() as cursor:  # names from the model, quoted; the value a parameter
        cursor.execute(f"DELETE FROM {table} WHERE {column} = %s", [sender.pk])  # noqa: S608


def _insert_rules(sender: MailSender, entries: Sequence[Entry], user: Any) -> None:
    """Write a whole table: bulk_create, or on PostgreSQL one COPY (deleting and writing
    10,000 rules took 0.16 s instead of 0.67 s; bench/pages.py). A COPY does not show
    in Django's query log, and bypasses the model's fields: it encrypts the passwords
    itself, as OverrideRule.text would."""
    connection = connections[OverrideRule.objects.db]
    if connection.vendor != "postgresql" or not entries:
        OverrideRule.objects.bulk_create(
            [
                OverrideRule(
                    sender=sender,
                    position=index,
                    text=entry.text,
                    enabled=entry.enabled,
                    comment=entry.comment,
                    updated_by=user,
                )
                for index, entry in enumerate(entries, start=1)
            ],
            batch_size=1000,
        )
        return
    meta = OverrideRule._meta
    fields = ["sender", "position", "text", "enabled", "comment", "created_at"]
    fields += ["updated_at", "updated_by"]
    columns = ", ".join(connection.ops.quote_name(meta.get_field(f).column) for f in fields)
    sql = f"COPY {connection.ops.quote_name(meta.db_table)} ({columns}) FROM STDIN"
    now = timezone.now()
    user_id = getattr(user, "pk", None)
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for index, entry in enumerate(entries, start=1):
            copy.write_row(
                (
                    sender.pk,
                    index,
                    seal_passwords(entry.text),
                    entry.enabled,
                    entry.comment,
                    now,
                    now,
                    user_id,
                )
            )


@transaction.atomic
def acknowledge_warning(
    rule: OverrideRule, code: str, *, actor: Actor, expected_revision: int | None = None
) -> Change:
    """Mark the warning `code` on `rule` as intended; a revision records who and when."""
    sender = _lock(rule.sender, expected_revision)
    rule = OverrideRule.objects.get(pk=rule.pk, sender=sender)
    WarningAcknowledgement.objects.update_or_create(
        rule=rule, code=code, defaults={"text": rule.text, "user": actor.user_or_none}
    )
    message = actor.message or f"rule {rule.position}: the {code} warning acknowledged as intended"
    return _record(sender, replace(actor, message=message), rule=rule, edit=lambda table: table)
