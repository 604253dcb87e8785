"""Names and patterns: IDNA normalisation, wildcards and RE2 regexes.

International names are converted with IDNA2008 and UTS #46 non-transitional
processing, as browsers do: `straße.example` is `xn--strae-oqa.example`, never
`strasse.example` (a different domain).

Everything here runs in linear time on user input: wildcards become plain string
tests or RE2 programs, never a backtracking engine.
"""

from __future__ import annotations

import functools
import ipaddress
import unicodedata
from collections.abc import Callable, Iterator
from typing import Any

import idna
import re2

MAX_REGEX_LENGTH = 512
# RE2 bounds each program (and its DFA cache) to this much memory; a pattern that needs
# more is refused. It also bounds compile time (~20 ms) and the cost per character.
MAX_REGEX_MEMORY = 1 << 20

_NAME_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-"
_IDN_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})


class InvalidValue(Exception):
    """A piece of a line is malformed; `offset` is 0-based within that piece."""

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message


def _always(_: str) -> bool:
    return True


def normalise_name(text: str, *, what: str, wildcards: bool, underscore: bool = True) -> str:
    """A domain name or pattern in its matching form: lower-case A-labels, no final dot.

    Raises InvalidValue pointing at the offending character.
    """
    allowed = _NAME_CHARS + ("_" if underscore else "") + ("*?" if wildcards else "")
    # Only ASCII is lower-cased here: str.lower() may change the length of other
    # text (and so the error columns); IDNA's nameprep folds the case of IDN labels.
    name = text.lower() if text.isascii() else text
    if len(name) > 1 and name.endswith("."):
        name = name[:-1]
    if (
        # The common case: short ASCII that holds only allowed characters and no empty label.
        name.isascii()
        and 0 < len(name) <= 63
        and not name.strip(allowed + ".")
        and not name.startswith(".")
        and ".." not in name
    ):
        return name
    name = name.translate(_IDN_DOTS)
    labels: list[str] = []
    offset = 0
    for label in name.split("."):
        labels.append(_normalise_label(label, offset, what=what, allowed=allowed))
        offset += len(label) + 1
    result = ".".join(labels)
    if len(result) > 253 and not (wildcards and ("*" in result or "?" in result)):
        raise InvalidValue(0, f"{what} is longer than 253 characters")
    return result


def _normalise_label(label: str, offset: int, *, what: str, allowed: str) -> str:
    if not label:
        return _fail_empty_label(offset, what)
    ascii_label = label.isascii()
    for i, char in enumerate(label):
        if char.isascii():
            if char.lower() not in allowed:
                raise InvalidValue(offset + i, f'invalid character "{char}" in {what}')
        elif not unicodedata.category(char).startswith(("L", "M", "N")):
            raise InvalidValue(offset + i, f'invalid character "{char}" in {what}')
    if ascii_label:
        if len(label) > 63 and "*" not in label and "?" not in label:
            raise InvalidValue(offset, f'label "{label}" is longer than 63 characters')
        return label.lower()
    if "*" in label or "?" in label:
        raise InvalidValue(offset, "Non-ASCII letters may not share a label with * or ?")
    try:
        encoded = idna.encode(label, uts46=True, transitional=False).decode("ascii")
    except UnicodeError:  # idna.IDNAError is one
        raise InvalidValue(
            offset, f'"{label}" is not a valid international domain name label'
        ) from None
    return encoded.lower()


def _fail_empty_label(offset: int, what: str) -> str:
    if offset == 0:
        raise InvalidValue(0, f'{what} cannot start with "."')
    raise InvalidValue(offset, f"empty label in {what}")


def normalise_host(text: str) -> str:
    """A server host: a DNS name without wildcards, or a dotted IPv4 address.

    A name must be one a host can have: each label 1-63 characters, neither
    starting nor ending with "-", an "xn--" label a valid A-label.
    """
    name = normalise_name(text, what="host", wildcards=False, underscore=False)
    if name.replace(".", "").isdigit():
        try:
            return str(ipaddress.IPv4Address(name))
        except ValueError:
            raise InvalidValue(0, f'invalid IPv4 address "{text}"') from None
    _check_host_labels(text, name)
    return name


def _check_host_labels(text: str, name: str) -> None:
    # Offsets point into the text as typed: its labels line up with the name's.
    offset = 0
    for typed, label in zip(text.translate(_IDN_DOTS).split("."), name.split("."), strict=False):
        if len(label) > 63:
            raise InvalidValue(offset, f'label "{typed}" is longer than 63 characters')
        if label.startswith("-"):
            raise InvalidValue(offset, f'a host name label cannot start with "-" ("{typed}")')
        if label.startswith("xn--") and not _valid_a_label(label):
            raise InvalidValue(offset, f'"{typed}" is not a valid A-label (IDNA punycode)')
        if label.endswith("-"):
            raise InvalidValue(
                offset + len(typed) - 1, f'a host name label cannot end with "-" ("{typed}")'
            )
        offset += len(typed) + 1


def _valid_a_label(label: str) -> bool:
    try:
        return idna.encode(idna.decode(label)).decode("ascii") == label
    except UnicodeError:
        return False


def normalise_domain(text: str) -> str:
    """A recipient domain, or the domain of an address (the part after the last @).

    Raises ValueError with a message for the user.
    """
    domain = text.rpartition("@")[2].strip()
    if not domain:
        raise ValueError(f'"{text}" has no domain' if text else "the recipient is empty")
    if domain.startswith("["):
        raise ValueError(f'address literals such as "{domain}" have no MX records to override')
    try:
        return normalise_name(domain, what="domain", wildcards=False)
    except InvalidValue as error:
        raise ValueError(f'invalid domain "{domain}": {error.message}') from None


def compile_wildcard(pattern: str) -> Callable[[str], bool]:
    """A predicate telling whether a whole string matches `pattern`.

    `*` matches any run of characters (possibly empty), `?` exactly one. The
    comparison is exact: callers lower-case both sides.
    """
    if "*" not in pattern and "?" not in pattern:
        return pattern.__eq__
    if pattern == "*":
        return _always
    if "?" not in pattern and pattern.count("*") == 1:
        prefix, suffix = pattern.split("*")
        least = len(prefix) + len(suffix)
        return lambda s: len(s) >= least and s.startswith(prefix) and s.endswith(suffix)
    program = re2.compile("".join(_wildcard_to_regex(pattern)), _options(ignore_case=False))
    return predicate(program, anchored=True)


# google-re2's search()/fullmatch() build match objects in Python (3-7 µs a call);
# asking the underlying RE2 object directly whether there is a match costs under
# 1 µs. The attributes are private, so fall back to the public methods if they go.
_ANCHOR = getattr(re2, "_Anchor", None)


def predicate(program: Any, *, anchored: bool) -> Callable[[str], bool]:
    """`text → bool`: does `program` match the whole text (anchored) or anywhere in it."""
    regexp = getattr(program, "_regexp", None)
    if _ANCHOR is None or regexp is None or not hasattr(regexp, "Match"):
        method = program.fullmatch if anchored else program.search
        return lambda text: method(text) is not None
    match, anchor = regexp.Match, _ANCHOR.ANCHOR_BOTH if anchored else _ANCHOR.UNANCHORED

    def matches(text: str) -> bool:
        encoded = text.encode()
        return bool(match(anchor, encoded, 0, len(encoded))[0][0] >= 0)

    return matches


def _wildcard_to_regex(pattern: str) -> Iterator[str]:
    for char in pattern:
        if char == "*":
            yield ".*"
        elif char == "?":
            yield "."
        elif char.isascii() and not char.isalnum():
            yield "\\" + char
        else:
            yield char


def _options(*, ignore_case: bool) -> Any:
    options = re2.Options()
    options.log_errors = False  # RE2 would print every rejected pattern to stderr
    options.case_sensitive = not ignore_case
    options.dot_nl = True
    options.max_mem = MAX_REGEX_MEMORY
    return options


def compile_regex(pattern: str, *, ignore_case: bool) -> Any:
    """An RE2 program for a `/pattern/` value; raises InvalidValue if RE2 cannot run it."""
    if len(pattern) > MAX_REGEX_LENGTH:
        raise InvalidValue(0, f"regex is longer than {MAX_REGEX_LENGTH} characters")
    program = _compile_regex(pattern, ignore_case)
    if isinstance(program, str):
        raise InvalidValue(0, program)
    return program


@functools.lru_cache(maxsize=128)
def _compile_regex(pattern: str, ignore_case: bool) -> Any:
    """The program, or why RE2 refused it. Cached: a table is parsed on every keystroke
    of the live editors and compiled again for evaluation (programs are thread-safe)."""
    try:
        return re2.compile(pattern, _options(ignore_case=ignore_case))
    except re2.error as error:
        return _explain_regex_error(error)


def _explain_regex_error(error: Exception) -> str:
    linear = "(regexes must run in linear time)"
    detail = error.args[0] if error.args else ""
    if isinstance(detail, bytes):
        detail = detail.decode("utf-8", "replace")
    detail = str(detail)
    kind, _, where = detail.partition(": ")
    if kind == "invalid escape sequence" and where[1:2].isdigit():
        return f"back-references such as {where} are not supported {linear}"
    if kind == "invalid perl operator" and where.startswith(("(?=", "(?!", "(?<")):
        return f"look-around such as {where} is not supported {linear}"
    if detail.startswith("pattern too large"):
        return (
            f"regex is too complex: it needs more than {MAX_REGEX_MEMORY >> 20} MiB to run "
            "(use fewer or smaller repetitions)"
        )
    return f"invalid regex: {detail}"


def index_suffix(pattern: str) -> str | None:
    """The dot-aligned literal suffix every domain matching `pattern` ends with.

    `*.demon.co.uk` → `.demon.co.uk`; `mail?.example.org` → `.example.org`;
    None when the pattern's literal tail holds no dot (`*`, `mail*`, `*.co*`).
    """
    last = max(pattern.rfind("*"), pattern.rfind("?"))
    dot = pattern.find(".", last + 1)
    return None if dot < 0 else pattern[dot:]


def domain_suffixes(domain: str) -> Iterator[str]:
    """`a.b.c` → `.b.c`, `.c`: the keys under which index_suffix files patterns."""
    dot = domain.find(".")
    while dot >= 0:
        yield domain[dot:]
        dot = domain.find(".", dot + 1)


def valid_text(text: str) -> str:
    """`text` made encodable (lone surrogates become U+FFFD) so RE2 can read it."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text
