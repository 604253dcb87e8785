"""A sender's whole table as one text document (bulk editor, import, history).

The document is the override language plus two conventions carried in comment
lines, so that the delivery agent's parser ignores them and nothing is lost when
a table goes through text and back:

    # Mail for the parent company goes through its relay    <- comment of the rule below
    example.com smtp.myisp.com:587
    #disabled: *.example.org relay.example.net               <- a disabled rule

Consecutive comment lines above a rule are joined into that rule's comment.
No Django here: the bulk editor, import, rollback and commands all call this.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace

from senders.engine import PASSWORD_MASK, OverrideSyntaxError, Rule, format_rule, parse_rule

DISABLED_PREFIX = "#disabled:"
MAX_COMMENT_LENGTH = 500
# A document with more errors than this is not checked further: a pasted file of junk
# gets a short answer quickly, not a page listing a million errors.
MAX_ERRORS = 100
# Bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) can
# make text read differently from what it is ("Trojan Source"): stored text may not
# hold them. The marks (LRM, RLM, ALM) only nudge neutral characters and stay allowed.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def text_problem(text: str, *, multiline: bool = False) -> tuple[int, str] | None:
    """(0-based index, message) of the first character stored text may not hold, or None.

    Control characters (tab allowed; line breaks too when `multiline`), lone
    surrogates, the Unicode line and paragraph separators (U+2028, U+2029) and
    bidirectional controls are refused, as in rule text; everything else is text.
    """
    if text.isprintable() and not BIDI_CONTROLS.intersection(text):
        return None
    allowed = "\t\r\n" if multiline else "\t"
    for index, char in enumerate(text):
        code = f"U+{ord(char):04X}"
        if char in allowed:
            continue
        if char in BIDI_CONTROLS:
            return index, (
                f"bidirectional control character {code} is not allowed "
                "(it can make text look different from what it is)"
            )
        category = unicodedata.category(char)
        if char in "\r\n":
            return index, "a line break is not allowed here (this is one line of text)"
        if category in ("Zl", "Zp"):
            return index, f"line or paragraph separator {code} is not allowed"
        if category == "Cc":
            return index, f"control character {code} is not allowed"
        if category == "Cs":
            return index, f"invalid character {code} (a lone surrogate)"
    return None


_LINE_BREAKS = re.compile(r"[\r\n]+")


@dataclass(frozen=True)
class Entry:
    """One rule of a table as stored: canonical text, on/off, and its comment."""

    text: str
    enabled: bool = True
    comment: str = ""
    line: int = 0


def _error(line: int, column: int, token: str, message: str) -> OverrideSyntaxError:
    return OverrideSyntaxError(message, line=line, column=column, token=token)


def _shift(error: OverrideSyntaxError, line: int, offset: int) -> OverrideSyntaxError:
    return _error(line, error.column + offset, error.token, error.message)


def count_lines(text: str) -> tuple[int, int]:
    """(lines, rule lines) of a document, without parsing it: a size check comes first."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    rules = 0
    for raw in lines:
        stripped = raw.strip(" \t\r")
        if stripped and (
            not stripped.startswith("#") or stripped.lower().startswith(DISABLED_PREFIX)
        ):
            rules += 1
    return len(lines), rules


def parse_document(text: str) -> list[Entry]:
    """Parse a table document; raise one OverrideSyntaxError listing its errors.

    Every error is listed up to MAX_ERRORS, then one more says that checking
    stopped there (a pasted million-line file must not make a million messages).
    """
    entries: list[Entry] = []
    errors: list[OverrideSyntaxError] = []
    comment: list[str] = []
    comment_line = 0
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for number, raw in enumerate(lines, start=1):
        if len(errors) >= MAX_ERRORS:
            stopped = number
            break
        line = raw[:-1] if raw.endswith("\r") else raw
        stripped = line.strip(" \t")
        if not stripped:
            continue
        if stripped.lower().startswith(DISABLED_PREFIX):
            body_start = line.lower().index(DISABLED_PREFIX) + len(DISABLED_PREFIX)
            body = line[body_start:]
            enabled = False
        elif stripped.startswith("#"):
            problem = text_problem(line)
            if problem:  # the parser checks rule lines; comments are stored too
                index, message = problem
                errors.append(_error(number, index + 1, line[index], message))
                comment = []
                continue
            if not comment:
                comment_line = number
            comment.append(stripped[1:].strip())
            continue
        else:
            body_start = 0
            body = line
            enabled = True
        try:
            canonical = _parsed(body, number)[1]
        except OverrideSyntaxError as exc:
            errors.append(_shift(exc, number, body_start))
            comment = []
            continue
        joined = " ".join(filter(None, comment)) if comment else ""
        if len(joined) > MAX_COMMENT_LENGTH:
            errors.append(
                _error(
                    comment_line,
                    1,
                    "#",
                    f"comment is {len(joined)} characters long; "
                    f"at most {MAX_COMMENT_LENGTH} are kept",
                )
            )
        entries.append(Entry(canonical, enabled, joined, number))
        comment = []
    else:
        stopped = 0
    if comment and not stopped:
        errors.append(
            _error(
                comment_line,
                1,
                "#",
                "comment is not followed by a rule (comments belong to the rule below them)",
            )
        )
    if errors:
        errors.sort(key=lambda e: (e.line, e.column))
        if stopped:
            message = f"more than {MAX_ERRORS} errors: checking stopped here; fix those above first"
            errors.append(_error(stopped, 1, "", message))
        first = errors[0]
        raise OverrideSyntaxError(
            first.message, line=first.line, column=first.column, token=first.token, errors=errors
        )
    return entries


# Rule lines remembered by _parsed(): a 10,000-rule table twice over, about 10 MB.
# The oldest are forgotten first (a dict keeps insertion order).
PARSED_LINES_KEPT = 20_000
_remembered: dict[str, tuple[Rule, str]] = {}
_remembering = threading.Lock()


def _parsed(body: str, line: int = 1) -> tuple[Rule, str]:
    """One rule line parsed (numbered `line` if parsed now), and its canonical text.

    Raises OverrideSyntaxError; errors are not remembered, so they always carry the
    caller's line. The same lines are parsed again and again: the bulk editor checks
    the whole text on every pause in typing and lints it, a history diff parses two
    revisions that share nearly every line, and the table page, the tester and the
    export parse the table that was just saved. Rules are immutable: one parse
    serves them all.
    """
    found = _remembered.get(body)
    if found is not None:
        return found
    rule = parse_rule(body, line=line)
    canonical = format_rule(rule)
    parsed = rule, body if canonical == body else canonical  # keep one string, not two
    with _remembering:
        _remembered[body] = parsed
        if len(_remembered) > PARSED_LINES_KEPT:
            del _remembered[next(iter(_remembered))]
    return parsed


def rule_at(text: str, line: int) -> Rule:
    """`parse_rule(text, line=line)`, from the lines parsed before when it can be."""
    rule, canonical = _parsed(text, line)
    if rule.line == line:
        return rule
    rule = _numbered(rule, line)
    # Remember it with this number: the table page lints the table after every change,
    # and most rules keep their position from one revision to the next. (Replacing the
    # value of a key changes neither the size nor the order of the dict.)
    if text in _remembered:
        _remembered[text] = rule, canonical
    return rule


_RULE_FIELDS = tuple(f.name for f in fields(Rule))
_set = object.__setattr__


def _numbered(rule: Rule, line: int) -> Rule:
    """`replace(rule, line=line)` without running __init__ again: the table page lints
    10,000 rules after every change, most of them numbered anew (3 µs → 1 µs each)."""
    copy = object.__new__(Rule)
    for name in _RULE_FIELDS:
        _set(copy, name, getattr(rule, name))
    _set(copy, "line", line)
    return copy


def forget_parsed() -> None:
    """Forget every remembered line (benchmarks measuring a cold start; tests)."""
    with _remembering:
        _remembered.clear()


def has_credentials(text: str) -> bool:
    """Whether a rule's canonical text may hold `user[:password]@` in its server.

    False is certain (the server is the second token and has no `@`), so callers
    can skip parsing the rule; True means: parse it to know.
    """
    server = text.split(None, 2)[1:2]
    return not server or "@" in server[0]


def format_document(entries: Iterable[Entry], *, mask_passwords: bool = False) -> str:
    """The document for these entries; with mask_passwords, safe to show in a page."""
    out: list[str] = []
    for entry in entries:
        text = entry.text
        if mask_passwords and has_credentials(text):
            text = format_rule(parse_rule(text), mask_password=True)
        if entry.comment:
            # One comment line per line of the comment: a line break in a comment (which
            # the forms refuse) must never turn the rest of it into a rule.
            out.extend(f"# {part}" for part in _LINE_BREAKS.split(entry.comment))
        out.append(text if entry.enabled else f"{DISABLED_PREFIX} {text}")
    return "".join(f"{line}\n" for line in out)


def credentials_key(rule: Rule) -> tuple[str, str, int] | None:
    server = rule.server
    if server.username is None:
        return None
    return (server.username, server.host, server.port)


def restore_passwords(
    entries: list[Entry], known: Mapping[tuple[str, str, int], str]
) -> list[Entry]:
    """Put stored passwords back where the text carries the mask.

    Pages show relay passwords as PASSWORD_MASK; a rule submitted with the mask
    keeps the password stored for the same user, host and port. A mask with no
    stored password to stand for is an error: the admin must type the password.
    """
    restored: list[Entry] = []
    errors: list[OverrideSyntaxError] = []
    for entry in entries:
        if PASSWORD_MASK not in entry.text:  # the canonical text holds the password as typed
            restored.append(entry)
            continue
        rule = parse_rule(entry.text, line=entry.line)
        if rule.server.password != PASSWORD_MASK:
            restored.append(entry)
            continue
        key = credentials_key(rule)
        assert key is not None  # a password implies a user
        if key not in known:
            user, host, port = key
            column = entry.text.index(PASSWORD_MASK) + 1
            errors.append(
                _error(
                    entry.line,
                    column,
                    PASSWORD_MASK,
                    f"type the password for {user} at {host}:{port}: "
                    f"{PASSWORD_MASK} only keeps a password that is already stored",
                )
            )
            continue
        real = replace(rule, server=replace(rule.server, password=known[key]))
        restored.append(Entry(format_rule(real), entry.enabled, entry.comment, entry.line))
    if errors:
        first = errors[0]
        raise OverrideSyntaxError(
            first.message, line=first.line, column=first.column, token=first.token, errors=errors
        )
    return restored


def known_passwords(texts: Iterable[str]) -> dict[tuple[str, str, int], str]:
    """Stored passwords by (user, host, port), for restore_passwords()."""
    known: dict[tuple[str, str, int], str] = {}
    for text in texts:
        if not has_credentials(text):
            continue
        rule = parse_rule(text)
        key = credentials_key(rule)
        if key is not None and rule.server.password is not None:
            known.setdefault(key, rule.server.password)
    return known
