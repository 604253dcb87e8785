"""Forms for senders and for one rule at a time.

Rule text is checked by the engine's parser (through `senders.validators`); the
form only keeps what the parser said so that the page can point at the column.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from senders.engine import (
    Condition,
    DnsMxCondition,
    OverrideSyntaxError,
    Rule,
    format_rule,
    parse_rule,
    parse_server,
)
from senders.models import MailSender
from senders.rule_templates import PLACEHOLDER, unchanged_template
from senders.tabletext import MAX_COMMENT_LENGTH
from senders.validators import check_text, rule_error_message

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HOST_PORT = re.compile(r"^(?P<host>[^:\[\]]+)(?::(?P<port>[^:]*))?$")
_BRACKETED = re.compile(r"^\[(?P<host>[^\]]*)\](?::(?P<port>.*))?$")
NAMESERVER_HINT = "use an IP address, IP:port or [IPv6]:port"


def _split(value: str) -> list[str]:
    return [item for item in re.split(r"[\s,]+", value) if item]


def check_nameserver(entry: str) -> str:
    """Normalise one DNS server entry; ValidationError says what is wrong with it."""
    match = _BRACKETED.match(entry) or _HOST_PORT.match(entry)
    host, port = (match["host"], match["port"]) if match else (entry, None)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValidationError(
            f'"{entry}" is not a DNS server address: {NAMESERVER_HINT}.', code="nameserver"
        ) from None
    if entry.startswith("[") and address.version != 6:
        raise ValidationError(f'"{entry}": only IPv6 addresses go in brackets.', code="nameserver")
    if port is None:
        return str(address)
    if not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        raise ValidationError(
            f'"{entry}": the port must be a number from 1 to 65535.', code="nameserver"
        )
    host_text = f"[{address}]" if address.version == 6 else str(address)
    return f"{host_text}:{int(port)}"


def check_local_domain(entry: str) -> str:
    try:
        server = parse_server(entry)
    except OverrideSyntaxError:
        server = None
    if server is None or server.username is not None or ":" in entry or "[" in entry:
        raise ValidationError(f'"{entry}" is not a domain name.', code="domain")
    return server.host


class SenderForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = MailSender
        fields = ["name", "slug", "description", "enabled", "nameservers", "local_domains"]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "nameservers": forms.TextInput(attrs={"class": "code"}),
            "local_domains": forms.Textarea(attrs={"rows": 3, "class": "code"}),
        }
        help_texts = {
            "slug": "Letters, digits, - and _. Used in URLs and by delivery agents "
            "(/export/<slug>.txt): changing it breaks their export address.",
            "nameservers": "Optional: this sender's own DNS servers, separated by commas "
            "(IP, IP:port or [IPv6]:port). Empty means the system resolver.",
            "local_domains": "This sender's own domains, one per line. They drive the relay-loop "
            "warning: a catch-all rule (such as *) that also covers one of them is flagged, as "
            "mail to your own domain would go to that relay, which may send it straight back.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:  # app.js suggests a slug from the name while typing
            self.fields["slug"].widget.attrs["data-slug-from"] = "id_name"

    def clean_name(self) -> str:
        return check_text(self.cleaned_data["name"])

    def clean_description(self) -> str:
        return check_text(self.cleaned_data["description"], multiline=True)

    def clean_slug(self) -> str:
        slug: str = self.cleaned_data["slug"].lower()
        others = MailSender.objects.filter(slug=slug).exclude(pk=self.instance.pk)
        if others.exists():
            raise ValidationError(
                f'The slug "{slug}" is already used by another sender: choose another.',
                code="unique",
            )
        return slug

    def clean_nameservers(self) -> str:
        entries = _split(self.cleaned_data["nameservers"])
        errors, clean = [], []
        for entry in entries:
            try:
                clean.append(check_nameserver(entry))
            except ValidationError as error:
                errors.append(error)
        if errors:
            raise ValidationError(errors)
        value = ", ".join(clean)
        limit = MailSender._meta.get_field("nameservers").max_length or 0
        if len(value) > limit:
            raise ValidationError(f"Too many DNS servers: at most {limit} characters in all.")
        return value

    def clean_local_domains(self) -> str:
        errors, clean = [], []
        for entry in _split(self.cleaned_data["local_domains"]):
            try:
                clean.append(check_local_domain(entry))
            except ValidationError as error:
                errors.append(error)
        if errors:
            raise ValidationError(errors)
        return "\n".join(dict.fromkeys(clean))

    def validate_unique(self) -> None:
        # clean_slug already said it in words; don't say it twice.
        exclude = self._get_validation_exclusions()
        exclude.add("slug")
        try:
            self.instance.validate_unique(exclude=exclude)
        except ValidationError as error:
            self._update_errors(error)


_ATTRIBUTE_LABELS = {
    "retries": "retries",
    "size": "size",
    "authsender": "auth sender",
    "from": "envelope sender",
}
_OPERATOR_LABELS = {
    "==": "=",
    "=": "=",
    "<>": "≠",
    "!=": "≠",
    "<=": "≤",
    "<": "<",
    ">=": "≥",
    ">": ">",
    "~=": "matches",
    "~!": "does not match",
}


def describe_condition(condition: Condition | DnsMxCondition) -> str:
    if isinstance(condition, DnsMxCondition):
        verb = "no real MX host matches" if condition.negate else "a real MX host matches"
        return f"{verb} {condition.pattern}"
    label = _ATTRIBUTE_LABELS[condition.attribute]
    operator = _OPERATOR_LABELS[condition.operator]
    if condition.is_regex:
        return f"{label} {operator} regex {condition.value}"
    if condition.value == "":
        return f"{label} {operator} empty" + (
            " (null sender)" if label == "envelope sender" else ""
        )
    unit = " bytes" if condition.attribute == "size" else ""
    return f"{label} {operator} {condition.value}{unit}"


@dataclass(frozen=True)
class RuleSummary:
    """A rule as a person reads it; never carries the password, only whether one is set."""

    text: str  # canonical, password masked
    domain: str
    host: str
    port: int
    username: str | None
    password_set: bool
    conditions: tuple[str, ...]
    priority: int
    priority_default: bool
    end: bool
    adddns: bool


def describe_rule(rule: Rule) -> RuleSummary:
    server = rule.server
    return RuleSummary(
        text=format_rule(rule, mask_password=True),
        domain=rule.domain,
        host=server.host,
        port=server.port,
        username=server.username,
        password_set=server.password is not None,
        conditions=tuple(describe_condition(c) for c in rule.conditions),
        priority=rule.preference,
        priority_default=rule.priority is None,
        end=rule.end,
        adddns=rule.adddns,
    )


_EXCERPT = 100  # characters of a long line shown around the error


@dataclass(frozen=True)
class Verdict:
    """The parser's word on one typed rule: an error pointing at a column, or the rule."""

    message: str = ""
    excerpt: str = ""
    caret: str = ""
    summary: RuleSummary | None = None


def verdict_for(text: str, rule: Rule | None, error: OverrideSyntaxError | None) -> Verdict | None:
    if rule is not None:
        return Verdict(summary=describe_rule(rule))
    if error is None:
        return None
    line = _CONTROL.sub("\N{REPLACEMENT CHARACTER}", text.replace("\t", " "))
    column = max(error.column, 1)
    start = max(0, min(column - 1 - _EXCERPT // 2, len(line) - _EXCERPT))
    excerpt = ("…" if start else "") + line[start : start + _EXCERPT]
    if start + _EXCERPT < len(line):
        excerpt += "…"
    caret = " " * (column - 1 - start + (1 if start else 0)) + "^"
    return Verdict(message=rule_error_message(error), excerpt=excerpt, caret=caret)


class RuleForm(forms.Form):
    """One rule: typed text (passwords may be masked), comment, enabled, position."""

    text = forms.CharField(
        label="Rule",
        error_messages={"required": "Type a rule, e.g. example.com smtp.example.net:587"},
        widget=forms.TextInput(
            attrs={"class": "code", "autocomplete": "off", "spellcheck": "false"}
        ),
    )
    comment = forms.CharField(label="Comment", required=False, max_length=MAX_COMMENT_LENGTH)
    enabled = forms.BooleanField(label="Enabled", required=False, initial=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The parser names a NUL with its column, better than Django's generic refusal.
        text_field = self.fields["text"]
        text_field.validators = [
            v
            for v in text_field.validators
            if getattr(v, "code", "") != "null_characters_not_allowed"
        ]
        # What the parser made of the typed text: shown under the field.
        self.rule: Rule | None = None
        self.syntax_error: OverrideSyntaxError | None = None

    def clean_text(self) -> str:
        text: str = self.cleaned_data["text"]
        if unchanged_template(text):
            raise ValidationError(
                f"This is the template as offered: put your own relay (and values) in place of "
                f"{PLACEHOLDER} before adding it.",
                code="template",
            )
        try:
            self.rule = parse_rule(text)
        except OverrideSyntaxError as error:
            self.syntax_error = error
            raise ValidationError(rule_error_message(error), code="syntax") from None
        return text

    def clean_comment(self) -> str:
        comment: str = self.cleaned_data["comment"]
        if _CONTROL.search(comment):
            raise ValidationError("A comment is one line of text.", code="comment")
        return check_text(comment)

    @property
    def verdict(self) -> Verdict | None:
        if not self.is_bound:
            return None
        return verdict_for(self.data.get("text", "").strip(), self.rule, self.syntax_error)

    def parser_error(self, error: OverrideSyntaxError) -> None:
        """An error the table service found (e.g. a mask with no stored password).

        The service counts columns in the canonical text; point into the typed one.
        """
        typed = self.data.get("text", "").strip()
        if error.token and typed.find(error.token) >= 0:
            error = OverrideSyntaxError(
                error.message, column=typed.find(error.token) + 1, token=error.token
            )
        self.rule, self.syntax_error = None, error
        self.add_error("text", ValidationError(rule_error_message(error)))


class AddRuleForm(RuleForm):
    position = forms.IntegerField(
        label="Position",
        required=False,
        min_value=1,
        help_text="Empty: at the end. A number puts the rule there; the rules below move down.",
    )
