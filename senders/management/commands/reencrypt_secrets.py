"""`manage.py reencrypt_secrets`: encrypt every stored relay password with the first key
(in rules, revisions, and the rule texts kept with acknowledged warnings).

Run it after putting a new key first in SECRETS_ENCRYPTION_KEYS (the old keys after
it); once it has run, the old keys can go. Passwords still stored in clear (written
before encryption, or by hand) are encrypted too.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from senders.fields import EncryptionKeyMismatch, count_passwords
from senders.models import MailSender, OverrideRule, Revision, WarningAcknowledgement

FAILED = 1
BATCH = 200


class Command(BaseCommand):
    help = (
        "Encrypt every relay password stored in rules and revisions with the first key of "
        "SECRETS_ENCRYPTION_KEYS (after a key rotation; also encrypts any clear password)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        totals = [0, 0, 0, 0]
        try:
            for pk in MailSender.objects.order_by("pk").values_list("pk", flat=True):
                totals = [a + b for a, b in zip(totals, self._reencrypt(pk), strict=True)]
        except EncryptionKeyMismatch as error:
            self.stderr.write(f"Stopped: {error}. The senders before this one are done.")
            raise SystemExit(FAILED) from None
        rules, revisions, acknowledged, passwords = totals
        also = f", {acknowledged} acknowledged warnings" if acknowledged else ""
        self.stdout.write(
            f"Re-encrypted {passwords} passwords ({rules} rules, {revisions} revisions{also}) "
            "with the first key."
        )

    @transaction.atomic
    def _reencrypt(self, sender_pk: int) -> tuple[int, int, int, int]:
        """One sender, under its row lock, the lock every table change takes first: no
        edit lands between reading a rule and writing it back."""
        if not MailSender.objects.select_for_update().filter(pk=sender_pk).exists():
            return 0, 0, 0, 0
        rows, passwords = [], 0
        owned = (
            (OverrideRule, "text", "sender"),
            (Revision, "document", "sender"),
            (WarningAcknowledgement, "text", "rule__sender"),
        )
        for model, field, owner in owned:
            stored = model.objects.filter(**{owner: sender_pk, f"{field}__contains": "@"})
            pks = list(stored.order_by("pk").values_list("pk", flat=True))
            count = 0
            for start in range(0, len(pks), BATCH):
                batch = model.objects.filter(pk__in=pks[start : start + BATCH])
                # Reading decrypts (with any key); writing encrypts with the first key.
                for pk, text in batch.values_list("pk", field):
                    if found := count_passwords(text):
                        model.objects.filter(pk=pk).update(**{field: text})
                        count, passwords = count + 1, passwords + found
            rows.append(count)
        return rows[0], rows[1], rows[2], passwords
