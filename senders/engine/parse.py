"""Text → rules: a hand-written tokenizer and one small function per token kind."""

from __future__ import annotations

import difflib
import ipaddress
import unicodedata
from typing import cast

from senders.engine.errors import OverrideSyntaxError
from senders.engine.match import (
    InvalidValue,
    compile_regex,
    normalise_host,
    normalise_name,
)
from senders.engine.rules import (
    ATTRIBUTES,
    DEFAULT_PORT,
    NUMERIC_ATTRIBUTES,
    OPERATORS,
    OPTIONS,
    Attribute,
    Condition,
    DnsMxCondition,
    Operator,
    OptionName,
    Rule,
    Server,
)

MAX_LINE_LENGTH = 4096
# Each regex costs compile time and up to 1 MiB (see match.MAX_REGEX_MEMORY), so a
# line and a table may hold only so many; wildcards are cheap and not counted.
MAX_REGEXES_PER_RULE = 8
MAX_REGEXES_PER_TABLE = 100

_NAMES = (*ATTRIBUTES, "dnsmx", *OPTIONS)
_EQUALITY = ("=", "==", "!=", "<>")
_NUMERIC_OPERATORS = "=, ==, !=, <>, <, <=, > or >="
_TEXT_OPERATORS = "=, ==, !=, <>, <, <=, >, >=, ~= or ~!"


class _Errors:
    """The errors found so far; `line` is the number of the line being parsed."""

    def __init__(self, line: int) -> None:
        self.line = line
        self.errors: list[OverrideSyntaxError] = []

    def add(self, column: int, token: str, message: str) -> None:
        self.errors.append(OverrideSyntaxError(message, line=self.line, column=column, token=token))


def parse_rule(text: str, line: int = 1) -> Rule:
    """Parse one line into a Rule; `line` is the number reported in errors and kept on the rule.

    A blank or comment line is an error here. One trailing CR is ignored.
    """
    if text.endswith("\r"):
        text = text[:-1]
    errors = _Errors(line)
    rule = _parse_line(text, errors)
    if errors.errors:
        raise _bundle(errors.errors)
    if rule is None:
        stripped = text.lstrip(" \t")
        if stripped:
            errors.add(len(text) - len(stripped) + 1, "#", "a rule cannot be a comment")
        else:
            errors.add(1, "", "empty rule (expected a domain pattern and a server)")
        raise errors.errors[0]
    return rule


def parse_table(text: str) -> list[Rule]:
    """Parse a whole table: LF-separated lines, blank and `#` lines skipped.

    Line numbers count every line. All errors are collected; the first is
    raised with `.errors` holding them all.
    """
    if text.startswith("\ufeff"):  # a byte order mark left by a Windows editor
        text = text[1:]
    rules: list[Rule] = []
    errors = _Errors(0)  # one collector for the whole table, told the line number
    regexes = RegexBudget()
    for number, line_text in enumerate(text.split("\n"), start=1):
        if line_text.endswith("\r"):
            line_text = line_text[:-1]
        errors.line = number
        rule = _parse_line(line_text, errors)
        if rule is not None:
            rules.append(rule)
            column = line_text.find("/") + 1
            if (error := regexes.add(count_regexes(rule), number, column)) is not None:
                errors.errors.append(error)
    if errors.errors:
        raise _bundle(errors.errors)
    return rules


def parse_server(text: str) -> Server:
    """Parse `[user:password@]host[:port]` alone (columns count from 1 in `text`)."""
    stripped = text.strip(" \t")
    column = len(text) - len(text.lstrip(" \t")) + 1
    errors = _Errors(1)
    if _check_characters(text, errors):
        if not stripped:
            errors.add(1, "", "expected a server")
        elif " " in stripped or "\t" in stripped:
            errors.add(column, text, "a server cannot contain spaces")
        elif (server := _server(stripped, column, errors)) is not None:
            return server
    raise _bundle(errors.errors)


def count_regexes(rule: Rule | str) -> int:
    """The regex conditions of a rule, or of a rule's canonical text (no parsing)."""
    if isinstance(rule, str):
        return sum(1 for token in rule.split()[2:] if _is_regex_token(token))
    return sum(1 for c in rule.conditions if isinstance(c, Condition) and c.is_regex)


class RegexBudget:
    """Counts the regexes of a table, rule by rule, against MAX_REGEXES_PER_TABLE."""

    def __init__(self, used: int = 0) -> None:
        self.used = used

    def add(self, count: int, line: int, column: int = 1) -> OverrideSyntaxError | None:
        """The error for a rule with `count` regexes once the table is over the limit."""
        self.used += count
        if not count or self.used <= MAX_REGEXES_PER_TABLE:
            return None
        return OverrideSyntaxError(
            f"too many regexes: a table may hold at most {MAX_REGEXES_PER_TABLE} "
            "(use wildcards, or one regex with alternatives)",
            line=line,
            column=column,
            token="",
        )


def _bundle(errors: list[OverrideSyntaxError]) -> OverrideSyntaxError:
    first = errors[0]
    first.errors = tuple(errors)
    return first


def _check_characters(text: str, errors: _Errors) -> bool:
    if len(text) > MAX_LINE_LENGTH:
        errors.add(
            MAX_LINE_LENGTH + 1,
            "",
            f"line is longer than {MAX_LINE_LENGTH} characters (it has {len(text)})",
        )
        return False
    if text.isprintable():
        return True
    for index, char in enumerate(text):
        if char == "\t" or char.isprintable():
            continue
        category = unicodedata.category(char)
        code = f"U+{ord(char):04X}"
        if char == "\n":
            message = "line break inside a rule (a rule is one line)"
        elif category == "Cc":
            message = f"control character {code} is not allowed"
        elif category == "Cs":
            message = f"invalid character {code} (a lone surrogate)"
        elif char.isspace():
            message = (
                f"whitespace character {code} is not allowed (separate tokens with spaces or tabs)"
            )
        elif category == "Cf":
            message = f"invisible character {code} is not allowed"
        else:
            continue  # private-use and unassigned code points are ordinary text
        errors.add(index + 1, char, message)
        return False
    return True


def _parse_line(text: str, errors: _Errors) -> Rule | None:
    """The rule on this line, None for a blank or comment line or when the line has
    errors (added to `errors`, which may already hold those of earlier lines)."""
    known = len(errors.errors)
    if not (len(text) <= MAX_LINE_LENGTH and text.isprintable()) and not _check_characters(
        text, errors
    ):
        return None
    # Only spaces and tabs are left as whitespace after the character check, so
    # str.split() finds the tokens; each is then located after the previous one.
    words = text.split()
    if not words or words[0].startswith("#"):
        return None
    tokens = []
    position = 0
    for word in words:
        position = text.find(word, position)
        tokens.append((position + 1, word))
        position += len(word)

    column, token = tokens[0]
    domain = None
    if token.startswith("$"):
        errors.add(column, token, f'expected a domain pattern before "{token}"')
    else:
        domain = _name(token, column, errors, what="domain pattern", wildcards=True)

    if len(tokens) < 2:
        errors.add(len(text) + 1, "", f'expected a server after "{token}"')
        return None
    column, token = tokens[1]
    server = None
    if token.startswith("$") and "@" not in token:
        errors.add(column, token, f'expected a server before "{token}"')
    else:
        server = _server(token, column, errors)

    conditions: list[Condition | DnsMxCondition] = []
    options: dict[str, int | None] = {}
    regexes = 0
    for column, token in tokens[2:]:
        if not token.startswith("$"):
            _stray(token, column, errors)
            continue
        if _is_regex_token(token):
            regexes += 1
            if regexes > MAX_REGEXES_PER_RULE:  # refused before RE2 spends time on it
                message = f"too many regexes on one line (at most {MAX_REGEXES_PER_RULE})"
                errors.add(column, token, message)
                continue
        item = _dollar(token, column, errors, options)
        if item is not None:
            conditions.append(item)

    if domain is None or server is None or len(errors.errors) > known:
        return None
    return Rule(
        domain=domain,
        server=server,
        conditions=tuple(conditions),
        end="end" in options,
        adddns="adddns" in options,
        priority=options.get("priority"),
        options=cast(tuple[OptionName, ...], tuple(options)),
        line=errors.line,
        columns=tuple(column for column, _ in tokens),
    )


def _is_regex_token(token: str) -> bool:
    """`$from~=/x/` and the like: a text condition whose value is a regex."""
    for operator in ("~=/", "~!/"):
        at = token.find(operator)
        if at > 0 and token[1:at].lower() in ATTRIBUTES:
            return True
    return False


def _name(token: str, column: int, errors: _Errors, *, what: str, wildcards: bool) -> str | None:
    try:
        return normalise_name(token, what=what, wildcards=wildcards)
    except InvalidValue as error:
        errors.add(column + error.offset, token, error.message)
        return None


def _server(token: str, column: int, errors: _Errors) -> Server | None:
    try:
        return _read_server(token)
    except InvalidValue as error:
        errors.add(column + error.offset, token, error.message)
        return None


def _read_server(token: str) -> Server:
    username = password = None
    hostport, base = token, 0
    at = token.rfind("@")
    if at >= 0:
        credentials, hostport, base = token[:at], token[at + 1 :], at + 1
        user, colon, password = credentials.partition(":")
        if not colon:
            raise InvalidValue(0, 'expected "user:password@" before the host')
        if not user:
            raise InvalidValue(0, 'expected a user name before ":"')
        if not password:
            raise InvalidValue(len(user) + 1, 'expected a password between ":" and "@"')
        username = user
    if not hostport:
        raise InvalidValue(base, 'expected a host after "@"')

    if hostport.startswith("["):
        close = hostport.find("]")
        if close < 0:
            raise InvalidValue(base, 'expected "]" after the IPv6 address')
        address = hostport[1:close]
        try:
            if "%" in address:
                raise ValueError
            host = ipaddress.IPv6Address(address).compressed
        except ValueError:
            raise InvalidValue(base + 1, f'invalid IPv6 address "{address}"') from None
        rest, rest_at = hostport[close + 1 :], base + close + 1
        if rest and not rest.startswith(":"):
            raise InvalidValue(rest_at, f'expected ":port" after "]", found "{rest}"')
    else:
        if hostport.count(":") > 1:
            raise InvalidValue(base, "an IPv6 address must be in brackets, e.g. [2001:db8::25]")
        name, colon, port_text = hostport.partition(":")
        if not name:
            raise InvalidValue(base, "expected a host before the port")
        if "*" in name or "?" in name:
            index = min(i for i in (name.find("*"), name.find("?")) if i >= 0)
            raise InvalidValue(base + index, "the server host cannot hold wildcards")
        try:
            host = normalise_host(name)
        except InvalidValue as error:
            raise InvalidValue(base + error.offset, error.message) from None
        rest, rest_at = colon + port_text, base + len(name)

    port = DEFAULT_PORT
    if rest:
        digits = rest[1:]
        if not digits:
            raise InvalidValue(rest_at + 1, 'expected a port number after ":"')
        if not (digits.isascii() and digits.isdigit()):
            raise InvalidValue(rest_at + 1, f'port must be a number 1-65535, found "{digits}"')
        port = int(digits)
        if not 1 <= port <= 65535:
            raise InvalidValue(rest_at + 1, f"port {digits} is out of range 1-65535")
    return Server(host=host, port=port, username=username, password=password)


def _suggest(name: str) -> str | None:
    close = difflib.get_close_matches(name.lower(), _NAMES, n=1, cutoff=0.6)
    return f"${close[0]}" if close else None


def _stray(token: str, column: int, errors: _Errors) -> None:
    if token.startswith("#"):
        errors.add(column, token, f'unexpected "{token}" (a comment must be on a line of its own)')
        return
    head = token.split(":", 1)[0]
    for op in OPERATORS:
        head = head.split(op, 1)[0]
    suggestion = _suggest(head) if head.isalpha() else None
    if suggestion:
        errors.add(column, token, f'unexpected "{token}" (did you mean {suggestion}?)')
    else:
        errors.add(column, token, f'unexpected "{token}" (conditions and options start with $)')


def _dollar(
    token: str, column: int, errors: _Errors, options: dict[str, int | None]
) -> Condition | DnsMxCondition | None:
    end = 1
    while end < len(token) and (token[end].isalnum() or token[end] == "_"):
        end += 1
    name, rest, rest_column = token[1:end], token[end:], column + end
    key = name.lower()
    if not name:
        errors.add(column, token, 'expected a condition or option name after "$"')
    elif key in ATTRIBUTES:
        return _condition(cast(Attribute, key), token, rest, rest_column, errors)
    elif key == "dnsmx":
        return _dnsmx(token, rest, rest_column, errors)
    elif key in OPTIONS:
        if key in options:
            errors.add(column, token, f"repeated option ${key}")
        elif key == "priority":
            priority = _priority(token, rest, rest_column, errors)
            if priority is not None:
                options[key] = priority
        elif rest:
            errors.add(rest_column, token, f"${key} takes no value")
        else:
            options[key] = None
    else:
        kind = "attribute" if rest[:1] in ("=", "<", ">", "!", "~") else "option"
        suggestion = _suggest(name)
        if suggestion:
            hint = f"did you mean {suggestion}?"
        elif kind == "attribute":
            hint = "expected $retries, $size, $authsender or $from"
        else:
            hint = "expected $end, $adddns, $priority or $dnsmx"
        errors.add(column, token, f'unknown {kind} "${name}" ({hint})')
    return None


def _condition(
    attribute: Attribute, token: str, rest: str, column: int, errors: _Errors
) -> Condition | None:
    numeric = attribute in NUMERIC_ATTRIBUTES
    operator = next((op for op in OPERATORS if rest.startswith(op)), None)
    if operator is None:
        listed = _NUMERIC_OPERATORS if numeric else _TEXT_OPERATORS
        found = f', found "{rest}"' if rest else ""
        errors.add(column, token, f"expected an operator after ${attribute} ({listed}){found}")
        return None
    value, value_column = rest[len(operator) :], column + len(operator)
    written = f"${attribute}{operator}"
    if numeric:
        if operator in ("~=", "~!"):
            errors.add(column, token, f"{operator} works on text only: ${attribute} is a number")
            return None
        if not value:
            errors.add(value_column, token, f'expected a number after "{written}"')
            return None
        if not (value.isascii() and value.isdigit()):
            found = f'found "{value}"'
            errors.add(
                value_column, token, f'expected digits after "{written}" (no sign or unit), {found}'
            )
            return None
        value = str(int(value))
    elif not value:
        if operator not in _EQUALITY:
            errors.add(
                value_column,
                token,
                f'expected a value after "{written}" (only =, ==, != and <> take an empty value)',
            )
            return None
    elif operator in ("~=", "~!") and value.startswith("/"):
        try:
            _split_regex(value)
        except InvalidValue as error:
            errors.add(value_column + error.offset, token, error.message)
            return None
    return Condition(attribute=attribute, operator=cast(Operator, operator), value=value)


def _split_regex(value: str) -> tuple[str, bool]:
    """`/pattern/` or `/pattern/i` → (pattern, ignore_case), checked by RE2."""
    last = value.rfind("/")
    if last == 0:
        raise InvalidValue(0, 'a regex must end with "/" (write /pattern/ or /pattern/i)')
    pattern, flags = value[1:last], value[last + 1 :]
    if flags not in ("", "i"):
        raise InvalidValue(last + 1, f'unknown regex flag "{flags}" (the only flag is i)')
    if not pattern:
        raise InvalidValue(0, "empty regex (write /pattern/ or /pattern/i)")
    try:
        compile_regex(pattern, ignore_case=bool(flags))
    except InvalidValue as error:
        raise InvalidValue(1 + error.offset, error.message) from None
    return pattern, bool(flags)


def _dnsmx(token: str, rest: str, column: int, errors: _Errors) -> DnsMxCondition | None:
    if not rest.startswith(":"):
        errors.add(column, token, 'expected ":" after $dnsmx (write $dnsmx:*.example.com)')
        return None
    negate = rest.startswith(":!")
    skip = 2 if negate else 1
    pattern = rest[skip:]
    if not pattern:
        written = "$dnsmx:!" if negate else "$dnsmx:"
        errors.add(column + skip, token, f'expected a wildcard after "{written}"')
        return None
    normal = _name(pattern, column + skip, errors, what="$dnsmx pattern", wildcards=True)
    return None if normal is None else DnsMxCondition(pattern=normal, negate=negate)


def _priority(token: str, rest: str, column: int, errors: _Errors) -> int | None:
    if not rest.startswith(":"):
        errors.add(column, token, 'expected ":" after $priority (write $priority:20)')
        return None
    digits = rest[1:]
    if not digits:
        errors.add(column + 1, token, 'expected a number 0-65535 after "$priority:"')
        return None
    if not (digits.isascii() and digits.isdigit()):
        errors.add(column + 1, token, f'priority must be a number 0-65535, found "{digits}"')
        return None
    priority = int(digits)
    if priority > 65535:
        errors.add(column + 1, token, f"priority {digits} is out of range 0-65535")
        return None
    return priority
