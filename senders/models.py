"""Mail senders and their ordered DNS override tables.

The canonical rule text is the source of truth: anything structured (domain,
server, conditions) is derived from it by the engine's parser, never stored apart.
Every change to a table goes through `senders.tables`, which keeps positions dense,
bumps the sender's revision number and records a `Revision`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse

from senders.fields import EncryptedPasswordsField

# The start of the User-Agent that overrides-agent sends (senders.agent.fetch).
POSTFIX_AGENT_USER_AGENT = "overrides-agent/"


class MailSender(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(
        max_length=100,
        unique=True,
        help_text="Used in URLs and by delivery agents: /export/<slug>.txt",
    )
    description = models.TextField(blank=True)
    enabled = models.BooleanField(default=True)
    nameservers = models.CharField(
        "DNS servers",
        max_length=500,
        blank=True,
        help_text="Optional: this sender's own DNS servers, comma separated "
        "(IP or IP:port). Empty means the system resolver.",
    )
    local_domains = models.TextField(
        blank=True,
        help_text="This sender's own domains, one per line; a catch-all rule covering "
        "them is flagged as a relay loop.",
    )
    # Bumped by every change to the table; the export's ETag and stale-edit
    # detection key on it.
    revision = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Export access: only a hash of the token is kept.
    export_token_hash = models.CharField(max_length=128, blank=True, editable=False)
    export_token_created_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name", "slug"]
        permissions = [("manage_export_token", "Can create, rotate and revoke export tokens")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Saving a loaded sender writes only what a person edits.

        The revision counter and the export token are written by their own code
        with explicit `update_fields`; a plain save of a form loaded earlier must
        not put back the values it read (undoing a table change or a token
        rotation that landed in between).
        """
        if self.pk is not None and not self._state.adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                f.name for f in self._meta.concrete_fields if f.editable and not f.primary_key
            ] + ["updated_at"]
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("senders:detail", args=[self.slug])

    # The last fetch by a delivery agent, kept in its own row (ExportFetch).
    @property
    def follows_postfix_agent(self) -> bool:
        """Whether lint and the tester speak of the Postfix agent for this sender:
        POSTFIX_AGENT is on, or the agent (its User-Agent says so) fetched the export."""
        if settings.POSTFIX_AGENT:
            return True
        record = self.fetch_record
        return record is not None and record.agent.startswith(POSTFIX_AGENT_USER_AGENT)

    @property
    def fetch_record(self) -> ExportFetch | None:
        try:
            record: ExportFetch = self.fetch  # type: ignore[attr-defined]
        except ExportFetch.DoesNotExist:
            return None
        # A record left by a poll racing the deletion of a sender that had this id.
        return record if record.at >= self.created_at else None

    @property
    def last_fetched_at(self) -> datetime | None:
        record = self.fetch_record
        return record.at if record else None

    @property
    def last_fetched_by(self) -> str:
        record = self.fetch_record
        return record.by if record else ""

    @property
    def last_fetched_revision(self) -> int | None:
        record = self.fetch_record
        return record.revision if record else None

    @property
    def nameserver_list(self) -> list[str]:
        return [ns.strip() for ns in self.nameservers.replace("\n", ",").split(",") if ns.strip()]

    @property
    def local_domain_list(self) -> list[str]:
        return [d.strip().lower() for d in self.local_domains.split() if d.strip()]


class ExportFetch(models.Model):
    """The last fetch of a sender's export: when, from which address, which revision.

    Its own row, not columns of the sender: a poll writes it with one short statement
    that never waits for a save, which holds the sender's row lock for its whole
    transaction (`senders.tables`). For the same reason the database has no foreign
    key constraint here: inserting a row that references the sender would take a share
    lock on the sender's row and wait for the save all the same. Django still deletes
    the record with its sender.
    """

    sender = models.OneToOneField(
        MailSender,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="fetch",
        db_constraint=False,
    )
    at = models.DateTimeField()
    by = models.CharField(max_length=100, blank=True)
    revision = models.PositiveIntegerField()
    # The fetcher's User-Agent: "overrides-agent/…" tells the admin that the Postfix
    # agent delivers this sender's mail (senders.lint warns about what Postfix cannot do).
    agent = models.CharField(max_length=100, blank=True)

    def __str__(self) -> str:
        return f"{self.sender_id} r{self.revision} at {self.at:%Y-%m-%d %H:%M}"


class UniqueAtStatementEnd(models.UniqueConstraint):
    """A unique constraint checked at the end of each statement where the database can
    (PostgreSQL: DEFERRABLE INITIALLY IMMEDIATE), so that one UPDATE may renumber a range
    of rules (senders.tables._shift); a plain unique constraint elsewhere. (Django
    leaves a deferrable constraint out altogether where it cannot be deferred.)"""

    def __init__(self, *, fields: list[str] | tuple[str, ...], name: str) -> None:
        super().__init__(fields=fields, name=name, deferrable=models.Deferrable.IMMEDIATE)

    def deconstruct(self) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
        path, args, kwargs = super().deconstruct()
        kwargs.pop("deferrable", None)
        return path, args, kwargs

    def _as_built(self, schema_editor: Any) -> models.UniqueConstraint:
        if schema_editor.connection.features.supports_deferrable_unique_constraints:
            return self
        return models.UniqueConstraint(fields=self.fields, name=self.name)

    def constraint_sql(self, model: Any, schema_editor: Any) -> Any:
        return models.UniqueConstraint.constraint_sql(
            self._as_built(schema_editor), model, schema_editor
        )

    def create_sql(self, model: Any, schema_editor: Any) -> Any:
        return models.UniqueConstraint.create_sql(
            self._as_built(schema_editor), model, schema_editor
        )

    def remove_sql(self, model: Any, schema_editor: Any) -> Any:
        return models.UniqueConstraint.remove_sql(
            self._as_built(schema_editor), model, schema_editor
        )

    def _check(self, model: Any, connection: Any) -> list[Any]:
        # models.W038 says SQLite would get no constraint at all: it gets a plain one.
        return [error for error in super()._check(model, connection) if error.id != "models.W038"]


class OverrideRule(models.Model):
    # No index of its own: the (sender, position) constraint's index starts with it, and
    # each index is one more to write for every rule a delete renumbers.
    sender = models.ForeignKey(
        MailSender, on_delete=models.CASCADE, related_name="rules", db_index=False
    )
    position = models.PositiveIntegerField(help_text="1-based place in the table")
    # Relay passwords are encrypted in the database (senders.fields); reads see clear text.
    text = EncryptedPasswordsField("rule", help_text="Canonical rule text")
    enabled = models.BooleanField(default=True)
    comment = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Written, never looked up: no index to write again for each rule a delete renumbers
    # (deleting a user scans the rules once to clear it).
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )

    class Meta:
        ordering = ["sender", "position"]
        constraints = [
            UniqueAtStatementEnd(fields=["sender", "position"], name="unique_rule_position"),
        ]

    def __str__(self) -> str:
        return f"{self.sender.slug} #{self.position}"


class Revision(models.Model):
    """A snapshot of a whole table after one change; history is never rewritten."""

    class Source(models.TextChoices):
        EDITOR = "editor", "rule editor"
        BULK = "bulk", "bulk editor"
        IMPORT = "import", "import"
        ADMIN = "admin", "Django admin"
        COMMAND = "command", "command"
        ROLLBACK = "rollback", "rollback"

    sender = models.ForeignKey(MailSender, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    # The table as a document (see senders.tabletext): comments, disabled rules and
    # all, so that rolling back restores exactly what was there. Passwords encrypted.
    document = EncryptedPasswordsField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    source = models.CharField(max_length=20, choices=Source.choices)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    message = models.CharField(max_length=500, blank=True)
    # What changed, in one line (senders.changelog): the history shows it when no
    # message was typed.
    summary = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["sender", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["sender", "number"], name="unique_revision_number"),
        ]

    def __str__(self) -> str:
        return f"{self.sender.slug} r{self.number}"


class RelayCheck(models.Model):
    """The last check of one relay (host, port, user) of a sender's table.

    Only what the check found is kept: never the password it used.
    """

    class Level(models.TextChoices):
        OK = "ok", "ready"
        WARN = "warn", "works, with a warning"
        FAIL = "fail", "failed"

    sender = models.ForeignKey(MailSender, on_delete=models.CASCADE, related_name="relay_checks")
    # "user@host:port" (user empty without credentials): senders.relaycheck.Relay.key
    relay = models.CharField(max_length=400)
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField()
    username = models.CharField(max_length=255, blank=True)
    level = models.CharField(max_length=4, choices=Level.choices)
    verdict = models.CharField(max_length=500)
    steps = models.JSONField(default=list)
    checked_at = models.DateTimeField()
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["sender", "host", "port", "username"]
        constraints = [
            models.UniqueConstraint(fields=["sender", "relay"], name="unique_relay_check"),
        ]

    def __str__(self) -> str:
        return f"{self.sender.slug} {self.relay}: {self.verdict}"


class WorkSlot(models.Model):
    """One expensive request in flight (`senders.limits`), shared by every worker.

    A slot is a row with a unique name ("user:42:0", "all:1"): taking one is an INSERT
    that either succeeds or hits the unique constraint, so two workers never hold the
    same slot. A slot left behind by a killed worker is taken over once it is older
    than EXPENSIVE_SLOT_SECONDS.
    """

    name = models.CharField(max_length=100, unique=True)
    token = models.CharField(max_length=32)
    started_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.name


class WarningAcknowledgement(models.Model):
    """An editor marked a lint warning on a rule as intended ("yes, this catch-all is meant").

    It holds for the rule text it was given for: once the rule is edited, the warning
    counts again. Giving one records a revision, so history shows who and when.
    """

    rule = models.ForeignKey(
        OverrideRule, on_delete=models.CASCADE, related_name="acknowledgements"
    )
    code = models.CharField(max_length=40)
    # The rule's text when it was acknowledged: it may hold a relay password.
    text = EncryptedPasswordsField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "code"], name="unique_acknowledgement"),
        ]

    def __str__(self) -> str:
        return f"{self.rule}: {self.code}"
