"""Relay passwords encrypted at rest.

Rule text and revision documents are stored with every relay password replaced by
`{fernet}<token>`, a Fernet token of the password made with the first key of
settings.SECRETS_ENCRYPTION_KEYS; the rest of the text keeps its shape:

    example.com joe:{fernet}gAAAAABn...@smtp.example.net:587 $end

`EncryptedPasswordsField` does this on the way to and from the database, so every
reader above the model (parser, export, masks, history, rollback) sees the clear
canonical text exactly as before. Fernet tokens are randomized: equal passwords do
not look equal in the database. Text without credentials is stored as it is and
costs one substring test each way.

A token that none of the keys opens (the wrong key is configured) raises
`EncryptionKeyMismatch`: never a wrong password, never the token taken for one.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Callable
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.checks import CheckMessage
from django.core.checks import Error as CheckError
from django.db import DatabaseError, models

MARK = "{fernet}"

# The server of a rule line (the token after the domain) when it carries credentials.
# Per the spec the credentials end at the server's last "@" and the user at the first
# ":", so the password is what lies between: it may hold ":" and "@", never whitespace.
# Lines of a table document (senders.tabletext) are rules, "#disabled: <rule>" or
# comments ("#..."), which hold no credentials.
_CREDENTIALS = re.compile(
    r"^(?P<head>[ \t]*(?i:#disabled:)?[ \t]*[^\s#]\S*[ \t]+[^\s:]+:)"
    r"(?P<password>\S+)(?P<tail>@[^\s@]+)(?=\s|$)",
    re.MULTILINE,
)

# version byte, timestamp, IV, at least one AES block, HMAC
_TOKEN_MIN_BYTES = 1 + 8 + 16 + 16 + 32


class EncryptionKeyMismatch(Exception):
    """A stored password cannot be decrypted with any configured key."""

    def __init__(self) -> None:
        super().__init__(
            "the encryption key does not match the stored passwords: SECRETS_ENCRYPTION_KEYS "
            "must hold the key they were encrypted with (a new key goes first, the old ones "
            "after it, until `manage.py reencrypt_secrets` has run)"
        )


# Passwords decrypted before, per key set: pages and the export read the same rules
# and revisions again and again. About 100 bytes each; emptied when full.
DECRYPTED_KEPT = 50_000


class _Keyring:
    def __init__(self, keys: tuple[str, ...]) -> None:
        self.fernet = MultiFernet([Fernet(key) for key in keys])
        self.decrypted: dict[str, str] = {}

    def decrypt(self, token: str) -> str:
        found = self.decrypted.get(token)
        if found is None:
            try:
                found = self.fernet.decrypt(token.encode("ascii")).decode()
            except (InvalidToken, UnicodeError):
                raise EncryptionKeyMismatch() from None
            if len(self.decrypted) >= DECRYPTED_KEPT:
                self.decrypted.clear()
            self.decrypted[token] = found
        return found


@functools.lru_cache(maxsize=4)
def _keyring_for(keys: tuple[str, ...]) -> _Keyring:
    return _Keyring(keys)


def _keyring() -> _Keyring:
    return _keyring_for(tuple(settings.SECRETS_ENCRYPTION_KEYS))


def _is_token(text: str) -> bool:
    """Whether `text` is shaped like a Fernet token (not whether a key opens it)."""
    try:
        data = base64.urlsafe_b64decode(text.encode("ascii"))
    except (UnicodeError, binascii.Error, ValueError):
        return False
    return (
        len(data) >= _TOKEN_MIN_BYTES
        and data[0] == 0x80
        and (len(data) - _TOKEN_MIN_BYTES) % 16 == 0
    )


def encrypt_password(password: str) -> str:
    return MARK + _keyring().fernet.encrypt(password.encode()).decode("ascii")


def decrypt_password(stored: str) -> str:
    """The clear password; a password stored before encryption is returned as it is."""
    if not stored.startswith(MARK):
        return stored
    return _keyring().decrypt(stored[len(MARK) :])


def _seal_one(password: str) -> str:
    # A token one of our keys opens is kept (loaddata of a dumpdata file, which holds
    # the encrypted form); one shaped like a token that no key opens means the wrong
    # key, not a password someone typed. Anything else is a clear password.
    if password.startswith(MARK) and _is_token(password[len(MARK) :]):
        decrypt_password(password)
        return password
    return encrypt_password(password)


def _each_password(text: str, needle: str, change: Callable[[str], str]) -> str:
    """`text` with `change` applied to the password of each line holding `needle`.

    Only those lines are looked at: a 10,000-line table with a thousand passwords
    costs a thousand line matches, not a scan of every line.
    """
    parts: list[str] = []
    done = 0  # text[:done] is in parts
    found = text.find(needle)
    while found != -1:
        start = text.rfind("\n", 0, found) + 1
        end = text.find("\n", found)
        end = len(text) if end == -1 else end
        match = _CREDENTIALS.match(text, start, end)
        if match is not None:
            parts += [text[done : match.start("password")], change(match["password"])]
            done = match.end("password")
        found = text.find(needle, end)
    if not parts:
        return text
    parts.append(text[done:])
    return "".join(parts)


def seal_passwords(text: str) -> str:
    """`text` (a rule or a table document) with each clear password encrypted."""
    return _each_password(text, "@", _seal_one)


def seal_all_passwords(text: str) -> str:
    """Every password encrypted, whatever it looks like: for text known to be clear."""
    return _each_password(text, "@", encrypt_password)


def count_passwords(text: str) -> int:
    """How many passwords `text` holds."""
    count = 0

    def counted(password: str) -> str:
        nonlocal count
        count += 1
        return password

    _each_password(text, "@", counted)
    return count


def open_passwords(text: str) -> str:
    """`text` with each encrypted password decrypted; raises EncryptionKeyMismatch."""
    return _each_password(text, MARK, decrypt_password)


class EncryptedPasswordsField(models.TextField):
    """A TextField of rule text whose relay passwords are stored encrypted.

    Lookups compare with the stored form: filtering on a password finds nothing.
    dumpdata writes the encrypted form and loaddata keeps it.
    """

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        return None if value is None else open_passwords(value)

    def get_db_prep_save(self, value: Any, connection: Any) -> Any:
        value = super().get_db_prep_save(value, connection)
        return seal_passwords(value) if isinstance(value, str) else value

    def value_to_string(self, obj: models.Model) -> str:
        return seal_passwords(self.value_from_object(obj))


def check_encryption_key(databases: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """A database check (`manage.py check --database default`, and `migrate`): the
    configured keys open the newest and the oldest encrypted rule and revision."""
    from senders.models import OverrideRule, Revision

    for database in databases or ():
        for model, field in ((OverrideRule, "text"), (Revision, "document")):
            stored = model.objects.using(database).filter(**{f"{field}__contains": MARK})
            try:
                for order in ("pk", "-pk"):
                    stored.order_by(order).values_list(field, flat=True).first()
            except EncryptionKeyMismatch as error:
                return [CheckError(str(error), id="senders.E001")]
            except DatabaseError:  # not migrated yet: nothing is encrypted
                break
    return []
