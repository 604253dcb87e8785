"""'Impact of a change': the Django side of `senders.engine.batch`.

The form reads a recipient list (pasted or uploaded) and what to compare: the saved
table against the bulk editor's unsaved text, or revision A against revision B.
`run_impact` evaluates every recipient against both and groups the changed routes.
Relay passwords never leave the engine: routes and traces are masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.urls import reverse

from senders.engine import OverrideSyntaxError, parse_nameserver
from senders.engine.batch import (
    MAX_BYTES,
    MAX_LINES,
    BatchError,
    Impact,
    ImpactGroup,
    RecipientImpact,
    RecipientList,
    compare_tables,
    decode_upload,
    read_recipients,
)
from senders.models import MailSender, Revision
from senders.tester import (
    RuleRow,
    TableUnderTest,
    revision_table,
    saved_table,
    shared_dns_resolver,
    trace_rows,
)
from senders.validators import clean_document

# The page shows the traces of this many examples, and lists this many changed
# recipients (each a link to the tester), in all; the CSV has every recipient.
MAX_TRACED = 30
MAX_LISTED = 1000
# An uploaded list up to this size is put into the textarea of the page that answers.
SHOWN_UPLOAD = 1_000_000
# All DNS lookups of one analysis together stop after this long: the rest defer.
DNS_SECONDS = 10.0

# An upload is also bounded by the site's upload limit (senders.uploads): the smaller wins.
UPLOAD_BYTES = min(MAX_BYTES, settings.MAX_TABLE_UPLOAD_BYTES)
LIMITS = (
    f"At most {MAX_LINES:,} lines; an uploaded file or pasted text at most "
    f"{filesizeformat(UPLOAD_BYTES)}."
)
RECIPIENTS_HELP = (
    "One address or domain per line; or CSV with a header row naming the columns "
    "(recipient, sender or from, auth_sender, size, retries); or a Postfix log excerpt "
    "(the to=<…> recipients are taken). " + LIMITS
)


class ImpactForm(forms.Form):
    recipients = forms.CharField(
        label="Recipients (paste)",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 8, "class": "code", "spellcheck": "false"}),
        help_text=RECIPIENTS_HELP,
    )
    file = forms.FileField(label="…or upload a file", required=False)
    compare = forms.ChoiceField(
        label="Compare",
        choices=[
            ("revisions", "Revision A (old) with revision B (new)"),
            ("text", "The saved table (old) with the unsaved text below (new)"),
        ],
        widget=forms.RadioSelect,
    )
    a = forms.IntegerField(label="Revision A", required=False, min_value=0, max_value=10**9)
    b = forms.IntegerField(label="Revision B", required=False, min_value=0, max_value=10**9)
    text = forms.CharField(
        label="Unsaved table text",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 6, "class": "code", "spellcheck": "false"}),
        help_text="From the bulk editor's “What would this change?” button. Nothing is saved "
        "from this page.",
    )
    dns = forms.ChoiceField(
        label="DNS answers from",
        choices=[("live", "Live DNS"), ("sender", "This sender's own DNS servers")],
        initial="live",
        widget=forms.RadioSelect,
    )

    def __init__(self, *args: Any, sender: MailSender, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sender = sender
        self.fields["text"].validators = []  # the parser names control characters by line
        self.recipients_text = ""

    @property
    def recipients_shown(self) -> str:
        """What the textarea shows again: the pasted text, or an uploaded file's if small
        (so that "Download as CSV" works without choosing the file again)."""
        typed = self["recipients"].value() or ""
        if not typed and len(self.recipients_text) <= SHOWN_UPLOAD:
            return self.recipients_text
        return str(typed)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        self._clean_recipients(data)
        if data.get("compare") == "text":
            self._clean_text(data)
        elif data.get("compare") == "revisions":
            self._clean_revisions(data)
        if data.get("dns") == "sender":
            try:
                if not self.sender.nameserver_list:
                    raise ValueError("This sender has no DNS servers of its own.")
                for server in self.sender.nameserver_list:
                    parse_nameserver(server)  # a clear message for a bad entry
            except ValueError as error:
                self.add_error("dns", str(error))
        return data

    def _clean_recipients(self, data: dict[str, Any]) -> None:
        upload = data.get("file")
        field = "file" if upload else "recipients"
        try:
            if upload:
                if upload.size > UPLOAD_BYTES:
                    raise BatchError(
                        [
                            f"The list is too big: {upload.size:,} bytes, at most "
                            f"{UPLOAD_BYTES:,} bytes ({filesizeformat(UPLOAD_BYTES)})."
                        ]
                    )
                text = decode_upload(upload.read())
            else:
                text = data.get("recipients") or ""
            self.recipients_text = text
            if not text.strip():
                raise BatchError(["Paste a list of recipients, or upload a file."])
            data["listed"] = read_recipients(text)
        except BatchError as error:
            self.add_error(field, [ValidationError(e, code="recipients") for e in error.errors])

    def _clean_text(self, data: dict[str, Any]) -> None:
        try:
            data["new"] = TableUnderTest.of(clean_document(data.get("text") or ""))
        except ValidationError as error:
            self.add_error("text", error)
        data["old"] = saved_table(self.sender)

    def _clean_revisions(self, data: dict[str, Any]) -> None:
        for name in ("a", "b"):
            number = data.get(name)
            if number is None:
                if name not in self.errors:
                    self.add_error(name, "Enter a revision number.")
                continue
            try:
                data["old" if name == "a" else "new"] = revision_table(self.sender, number)
            except Revision.DoesNotExist:
                have = f"1 to {self.sender.revision}" if self.sender.revision else "none yet"
                self.add_error(
                    name,
                    f"Revision {number} does not exist (this table has revisions {have}).",
                )
            except OverrideSyntaxError as error:
                self.add_error(name, f"Revision {number} can no longer be read: {error}")


@dataclass
class ImpactReport:
    impact: Impact
    listed: RecipientList
    old_label: str
    new_label: str
    tester_url: str
    data: dict[str, Any]

    @property
    def shown_groups(self) -> list[ShownGroup]:
        """Each group with the examples whose traces the page shows, and the recipients it
        lists with a link to the tester (MAX_TRACED and MAX_LISTED in all)."""
        traced, listed = MAX_TRACED, MAX_LISTED
        shown = []
        for group in self.impact.groups:
            examples = [self._traced(row) for row in group.examples[: max(traced, 0)]]
            members = [self._traced(row) for row in group.members[: max(listed, 0)]]
            traced -= len(examples)
            listed -= len(members)
            shown.append(ShownGroup(group, examples, members))
        return shown

    def _traced(self, row: RecipientImpact) -> TracedRow:
        # Saved rules and revisions are numbered by position, the unsaved text by line.
        new_word = "line" if self.data["compare"] == "text" else "rule"
        revisions = (
            (self.data["a"], self.data["b"]) if self.data["compare"] == "revisions" else None
        )
        return TracedRow(
            row,
            self.data["old"],
            self.data["new"],
            new_word,
            self.tester_url,
            self.data["dns"],
            revisions,
        )


@dataclass
class ShownGroup:
    group: ImpactGroup
    examples: list[TracedRow]
    members: list[TracedRow]


@dataclass
class TracedRow:
    row: RecipientImpact
    old_table: TableUnderTest
    new_table: TableUnderTest
    new_word: str  # "line" for the unsaved text; the old table is always a stored one
    tester_url: str
    dns: str  # "live" or "sender", as chosen for the analysis
    # (old, new) revision numbers when two revisions are compared; None: saved vs text
    revisions: tuple[int, int] | None = None

    @property
    def recipient(self) -> str:
        return self.row.recipient.address

    @property
    def old_trace(self) -> list[RuleRow]:
        return trace_rows(self.old_table, self.row.old, "rule")

    @property
    def new_trace(self) -> list[RuleRow]:
        return trace_rows(self.new_table, self.row.new, self.new_word)

    @property
    def test_link(self) -> str:
        """The tester with this recipient and its message filled in: the new revision when
        two revisions are compared, else the saved table (the unsaved text has its own
        trace on this page and "Test this text" in the bulk editor)."""
        return self._link(self.revisions[1] if self.revisions else None)

    @property
    def old_test_link(self) -> str:
        """The same test against the old revision (only when two revisions are compared)."""
        return self._link(self.revisions[0]) if self.revisions else ""

    @property
    def text_test_action(self) -> str:
        """Where this recipient's button posts the unsaved text to be tested (the page's
        one form of tests holds the text once; the message travels in the address)."""
        return f"{self.tester_url}?{urlencode(self._message_query())}"

    def _link(self, revision: int | None) -> str:
        query = {"recipients": self.row.recipient.address, **self._message_query()}
        if revision is not None:
            query["revision"] = str(revision)
        return f"{self.tester_url}?{urlencode(query)}"

    def _message_query(self) -> dict[str, str]:
        message = self.row.recipient.message
        return {
            "mail_from": message.sender,
            "auth_sender": message.auth_sender,
            "size": str(message.size),
            "retries": str(message.retries),
            "dns": self.dns,
        }


def run_impact(sender: MailSender, data: dict[str, Any]) -> ImpactReport:
    servers: tuple[str, ...] = tuple(sender.nameserver_list) if data["dns"] == "sender" else ()
    resolver = shared_dns_resolver(servers, float(settings.DNS_TIMEOUT))
    listed: RecipientList = data["listed"]
    impact = compare_tables(
        data["old"].compiled,
        data["new"].compiled,
        listed.recipients,
        resolver,
        dns_seconds=DNS_SECONDS,
        new_word="line" if data["compare"] == "text" else "rule",
    )
    if data["compare"] == "text":
        labels = (f"the saved table (revision {sender.revision})", "the unsaved text")
    else:
        labels = (f"revision {data['a']}", f"revision {data['b']}")
    tester_url = reverse("senders:test", args=[sender.slug])
    return ImpactReport(impact, listed, *labels, tester_url=tester_url, data=data)
