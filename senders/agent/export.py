"""Reading an export body: `.txt` (the table as text) or `.json` (parsed rules).

A body is only accepted whole: when the server sent its ETag (the export's is the
SHA-256 of the body) the body must hash to it, so a cut-off download is refused
even when it ends at a line break; an empty body (an emptied table) is accepted
only with such a proof. A body that does not parse is refused with the first error.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Literal

from senders.engine import OverrideSyntaxError, Rule, parse_rule, parse_table

Kind = Literal["txt", "json"]
_SHA256_ETAG = re.compile(r'"([0-9a-f]{64})"')


class BadExport(ValueError):
    """A body the agent refuses; the message says why, for the log."""


def kind_of(url: str) -> Kind:
    path = url.split("?", 1)[0].split("#", 1)[0]
    if path.endswith(".txt"):
        return "txt"
    if path.endswith(".json"):
        return "json"
    raise ValueError(f'--url "{url}" must end in .txt or .json (the sender\'s export URL)')


def etag_proves(etag: str | None, body: bytes) -> bool | None:
    """True/False if `etag` is a SHA-256 ETag matching `body` or not; None if it is no such tag."""
    match = _SHA256_ETAG.fullmatch((etag or "").strip())
    if match is None:
        return None
    return hashlib.sha256(body).hexdigest() == match.group(1)


def read_export(body: bytes, kind: Kind, etag: str | None = None) -> list[Rule]:
    """The rules of an export body, or BadExport."""
    proof = etag_proves(etag, body)
    if proof is False:
        raise BadExport(
            f"body of {len(body)} bytes does not match its ETag (cut off or changed in transit)"
        )
    if not body and proof is None:
        raise BadExport("empty body without an ETag proving it (an emptied table has one)")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadExport(f"body is not UTF-8 (byte {error.start})") from None
    if kind == "txt":
        if text and not text.endswith("\n") and proof is None:
            raise BadExport("body does not end with a line break (cut off?)")
        try:
            return parse_table(text)
        except OverrideSyntaxError as error:
            raise BadExport(f"table does not parse: {error}") from None
    return _read_json(text)


def _read_json(text: str) -> list[Rule]:
    try:
        document = json.loads(text)
    except ValueError as error:
        raise BadExport(f"body is not JSON: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("rules"), list):
        raise BadExport('JSON body has no "rules" list')
    rules: list[Rule] = []
    for number, item in enumerate(document["rules"], start=1):
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise BadExport(f'JSON rule {number} has no "text"')
        field = "rule" if "rule" in item else "position"  # older exports: "position" only
        line = item.get(field, number)
        if not isinstance(line, int) or isinstance(line, bool) or line < 1:
            raise BadExport(f'JSON rule {number} has an invalid "{field}"')
        try:
            rules.append(parse_rule(item["text"], line))
        except OverrideSyntaxError as error:
            raise BadExport(f"table does not parse: {error}") from None
    return rules
