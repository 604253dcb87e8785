"""Relay passwords at rest: the database holds them encrypted, readers get them clear.

A dump of the database (raw SQL, dumpdata, a backup) shows no relay password; the
export, history and rollback work on the clear text; rotating the key keeps everything
readable; a wrong key gives a clear error, never a wrong password.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.core.cache import cache
from django.core.checks import run_checks
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client, override_settings
from hypothesis import assume, given
from hypothesis import strategies as st

from senders.engine import OverrideSyntaxError, format_rule, parse_rule
from senders.export import create_token
from senders.fields import MARK, open_passwords, seal_passwords
from senders.models import MailSender, OverrideRule, Revision, WarningAcknowledgement
from senders.tables import (
    acknowledge_warning,
    add_rule,
    document_of,
    entries_of,
    replace_table,
    update_rule,
)
from senders.tabletext import parse_document
from tests.security.conftest import ACTOR, ENGINE, SECRET, TABLE, fill

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    cache.clear()  # the export caches its body per revision


ROOT = Path(__file__).resolve().parents[2]
OTHER_KEY = Fernet.generate_key().decode()
TOKEN = re.compile(re.escape(MARK) + r"gAAAAA[A-Za-z0-9_=-]+")


def raw(sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall()) if cursor.description else []


def stored_rules(sender: MailSender) -> list[str]:
    """The rule rows as the database holds them (what a dump or backup shows)."""
    return [
        text
        for (text,) in raw(
            "SELECT text FROM senders_overriderule WHERE sender_id = %s ORDER BY position",
            sender.pk,
        )
    ]


def stored_documents(sender: MailSender) -> list[str]:
    rows = raw("SELECT document FROM senders_revision WHERE sender_id = %s", sender.pk)
    return [document for (document,) in rows]


def everything_stored(sender: MailSender) -> str:
    return "\n".join(stored_rules(sender) + stored_documents(sender))


def export(client: Client, sender: MailSender) -> str:
    response = client.get(
        f"/export/{sender.slug}.txt", headers={"Authorization": f"Bearer {create_token(sender)}"}
    )
    assert response.status_code == 200
    return response.content.decode()


# ---------------------------------------------------------------- writing


def test_a_rule_added_through_the_page_is_stored_without_its_password(
    editor_client: Client, sender: MailSender
) -> None:
    response = editor_client.post(
        f"/senders/{sender.slug}/rules/add/",
        {"text": f"* joe:{SECRET}@smtp.corp.example $end", "revision": 0, "enabled": "on"},
    )
    assert response.status_code == 302
    assert SECRET not in everything_stored(sender)
    [text] = stored_rules(sender)
    # The row keeps its shape: only the password is a token.
    assert re.fullmatch(r"\* joe:\{fernet\}gAAAAA[A-Za-z0-9_=-]+@smtp\.corp\.example \$end", text)
    [document] = stored_documents(sender)
    assert TOKEN.search(document)
    # Everything above the model reads the clear text.
    assert OverrideRule.objects.get().text == f"* joe:{SECRET}@smtp.corp.example $end"
    assert Revision.objects.get().document == f"* joe:{SECRET}@smtp.corp.example $end\n"


def test_a_table_saved_by_the_bulk_editor_is_stored_without_passwords(
    editor_client: Client, sender: MailSender
) -> None:
    # The whole-table write: bulk_create on SQLite, COPY on PostgreSQL.
    response = editor_client.post(
        f"/senders/{sender.slug}/bulk/", {"text": TABLE, "revision": 0, "action": "save"}
    )
    assert response.status_code == 302
    assert SECRET not in everything_stored(sender)
    assert len(TOKEN.findall(everything_stored(sender))) == 2  # the rule and the revision
    assert document_of(sender) == TABLE


def test_a_password_with_colons_and_at_signs_survives_the_round_trip(sender: MailSender) -> None:
    add_rule(sender, "* joe:let:me@in@smtp.corp.example $authsender=joe@x.example", actor=ACTOR)
    # Only the password is encrypted: the user, host and the condition's "@" stay readable.
    [text] = stored_rules(sender)
    assert text.startswith("* joe:{fernet}gAAAAA")
    assert text.endswith("@smtp.corp.example $authsender=joe@x.example")
    assert "let:me@in" not in everything_stored(sender)
    assert entries_of(sender)[0].text == (
        "* joe:let:me@in@smtp.corp.example $authsender=joe@x.example"
    )


def test_a_password_that_looks_like_the_marker_is_kept_as_typed(sender: MailSender) -> None:
    for password in (f"{MARK}abc", f"{MARK}gAAAAA", f"{MARK}", f"{MARK}{MARK}x"):
        rule = f"* joe:{password}@smtp.corp.example"
        replace_table(sender, parse_document(rule), actor=ACTOR)
        assert OverrideRule.objects.get(sender=sender).text == rule
        [stored] = stored_rules(sender)
        assert re.fullmatch(rf"\* joe:{TOKEN.pattern}@smtp\.corp\.example", stored)


def test_equal_passwords_do_not_look_equal_in_the_database(sender: MailSender) -> None:
    fill(
        sender,
        f"a.example joe:{SECRET}@smtp.corp.example\nb.example joe:{SECRET}@smtp.corp.example\n",
    )
    first, second = (TOKEN.search(text)[0] for text in stored_rules(sender))
    assert first != second


def test_rules_without_passwords_are_stored_as_they_are(sender: MailSender) -> None:
    table = "example.com smtp.myisp.com:587\n* backup.example.net $from=joe@x.example\n"
    fill(sender, table)
    assert stored_rules(sender) == table.splitlines()
    assert stored_documents(sender) == [table]


PASSWORDS = st.text(
    st.characters(exclude_categories=("Cc", "Cs", "Zs", "Zl", "Zp")) | st.sampled_from(":@{}$#"),
    min_size=1,
    max_size=30,
)


@pytest.mark.django_db(databases=[])
@ENGINE
@given(
    user=st.text(st.characters(exclude_categories=("Cc", "Cs", "Z")), min_size=1, max_size=10),
    password=PASSWORDS,
    condition=st.sampled_from(["", " $end", " $from=a:b@c.example", " $authsender~=/x@y/"]),
    disabled=st.booleans(),
)
def test_any_password_is_encrypted_alone_and_reads_back_the_same(
    user: str, password: str, condition: str, disabled: bool
) -> None:
    try:
        rule = format_rule(parse_rule(f"* {user}:{password}@smtp.corp.example:587{condition}"))
    except OverrideSyntaxError:
        assume(False)
        raise
    document = f"# note {user}:{password}@x\n{'#disabled: ' if disabled else ''}{rule}\n"
    sealed = seal_passwords(document)
    assert open_passwords(sealed) == document
    stored = parse_rule(sealed.splitlines()[1].removeprefix("#disabled: "))
    assert TOKEN.fullmatch(stored.server.password or "")
    assert stored.server.username == parse_rule(rule).server.username
    assert sealed.splitlines()[0] == document.splitlines()[0]  # comments are not rules


# ---------------------------------------------------------------- reading


def test_the_export_serves_the_clear_password(client: Client, table: MailSender) -> None:
    body = export(client, table)
    assert f"* joe:{SECRET}@smtp.corp.example $authsender=joe $end\n" in body
    assert MARK not in body


def test_rolling_back_restores_an_old_password(
    editor_client: Client, client: Client, table: MailSender
) -> None:
    rule = table.rules.get(position=2)
    update_rule(rule, actor=ACTOR, text="* joe:new-password@smtp.corp.example $authsender=joe $end")
    table.refresh_from_db()
    assert SECRET not in export(client, table)
    response = editor_client.post(
        f"/senders/{table.slug}/history/{table.revision - 1}/rollback/",
        {"revision": table.revision, "message": "the new one is wrong"},
    )
    assert response.status_code == 302
    assert f"joe:{SECRET}@smtp.corp.example" in export(client, table)
    assert SECRET not in everything_stored(table)
    assert "new-password" not in everything_stored(table)


def test_a_database_filter_on_a_password_finds_nothing(table: MailSender) -> None:
    # What the Django admin's ?document__contains= oracle would run: no row matches.
    assert Revision.objects.filter(sender=table).count() == 2
    assert Revision.objects.filter(document__contains=SECRET).count() == 0
    assert OverrideRule.objects.filter(text__contains=SECRET).count() == 0
    assert OverrideRule.objects.filter(text__regex=r"joe:Zq7").count() == 0


def test_dumpdata_shows_encrypted_passwords_and_loaddata_keeps_them(
    table: MailSender, client: Client, tmp_path: Path
) -> None:
    out = io.StringIO()
    call_command("dumpdata", "senders", stdout=out)
    dump = out.getvalue()
    assert SECRET not in dump
    assert len(TOKEN.findall(dump)) == 3  # one rule, two revisions
    path = tmp_path / "dump.json"
    path.write_text(dump)
    MailSender.objects.all().delete()
    call_command("loaddata", str(path), verbosity=0)
    table = MailSender.objects.get(slug=table.slug)
    assert f"joe:{SECRET}@" in export(client, table)
    # The rows hold what the dump held: encrypted once, not encrypted again.
    dumped = [row["fields"] for row in json.loads(dump)]
    assert everything_stored(table) == "\n".join(
        [row["text"] for row in dumped if "text" in row]
        + [row["document"] for row in dumped if "document" in row]
    )


# ---------------------------------------------------------------- keys


def test_a_key_rotation_keeps_everything_readable(client: Client, table: MailSender) -> None:
    before = everything_stored(table)
    new_key, old_key = OTHER_KEY, settings.SECRETS_ENCRYPTION_KEYS[0]
    with override_settings(SECRETS_ENCRYPTION_KEYS=[new_key, old_key]):
        assert f"joe:{SECRET}@" in export(client, table)  # old tokens still open
        out = io.StringIO()
        call_command("reencrypt_secrets", stdout=out)
        assert out.getvalue() == (
            "Re-encrypted 3 passwords (1 rules, 2 revisions) with the first key.\n"
        )
    after = everything_stored(table)
    assert SECRET not in after
    assert set(TOKEN.findall(before)).isdisjoint(TOKEN.findall(after))
    with override_settings(SECRETS_ENCRYPTION_KEYS=[new_key]):  # the old key is gone
        assert f"joe:{SECRET}@" in export(client, table)
        assert document_of(table) == TABLE
        assert run_checks(databases=["default"], tags=["database"]) == []


def test_a_wrong_key_gives_a_clear_error_page_and_exports_nothing(
    client: Client, viewer_client: Client, table: MailSender
) -> None:
    with override_settings(SECRETS_ENCRYPTION_KEYS=[OTHER_KEY]):
        response = client.get(
            f"/export/{table.slug}.txt",
            headers={"Authorization": f"Bearer {create_token(table)}"},
        )
        assert response.status_code == 503
        assert SECRET.encode() not in response.content
        assert MARK.encode() not in response.content
        assert b"gAAAAA" not in response.content
        for url in (f"/senders/{table.slug}/", f"/senders/{table.slug}/bulk/"):
            response = viewer_client.get(url)
            assert response.status_code == 503
            assert (
                "<h1>The encryption key does not match the stored passwords</h1>"
                in response.content.decode()
            )
        [error] = run_checks(databases=["default"], tags=["database"])
        assert error.id == "senders.E001"
        assert str(error.msg).startswith(
            "the encryption key does not match the stored passwords: "
            "SECRETS_ENCRYPTION_KEYS must hold the key they were encrypted with"
        )
        status = 0
        err = io.StringIO()
        try:
            call_command("reencrypt_secrets", stdout=io.StringIO(), stderr=err)
        except SystemExit as exit:
            status = int(exit.code or 0)
        assert status == 1
        assert err.getvalue().startswith(
            "Stopped: the encryption key does not match the stored passwords"
        )


def test_reencrypt_secrets_encrypts_passwords_written_in_clear(
    client: Client, table: MailSender
) -> None:
    clear = f"* joe:{SECRET}@smtp.corp.example $authsender=joe $end"
    # As a database restored from before encryption would hold them.
    raw(
        "UPDATE senders_overriderule SET text = %s WHERE sender_id = %s AND position = 2",
        clear,
        table.pk,
    )
    raw("UPDATE senders_revision SET document = %s WHERE sender_id = %s", TABLE, table.pk)
    assert f"joe:{SECRET}@" in export(client, table)  # clear text still reads
    out = io.StringIO()
    call_command("reencrypt_secrets", stdout=out)
    assert out.getvalue() == "Re-encrypted 3 passwords (1 rules, 2 revisions) with the first key.\n"
    assert SECRET not in everything_stored(table)
    assert f"joe:{SECRET}@" in export(client, table)


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_existing_passwords_and_can_be_reversed() -> None:
    executor = MigrationExecutor(connection)
    before, after = [("senders", "0001_initial")], executor.loader.graph.leaf_nodes("senders")
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        sender = old.get_model("senders", "MailSender").objects.create(name="Old", slug="old")
        rule = f"* joe:{SECRET}@smtp.corp.example $end"
        literal = f"a.example ann:{MARK}gAAAAAB-typed-long-ago@smtp.corp.example"
        old.get_model("senders", "OverrideRule").objects.create(
            sender=sender, position=1, text=rule
        )
        old.get_model("senders", "OverrideRule").objects.create(
            sender=sender, position=2, text=literal
        )
        old.get_model("senders", "Revision").objects.create(
            sender=sender, number=1, document=f"{rule}\n{literal}\n", source="command"
        )
        executor = MigrationExecutor(connection)
        executor.migrate(after)
        stored = everything_stored(sender)
        assert SECRET not in stored
        assert "typed-long-ago" not in stored
        assert len(TOKEN.findall(stored)) == 4
        assert [entry.text for entry in entries_of(MailSender.objects.get(slug="old"))] == [
            rule,
            literal,
        ]
        executor = MigrationExecutor(connection)
        executor.migrate(before)
        assert stored_rules(sender) == [rule, literal]
        assert stored_documents(sender) == [f"{rule}\n{literal}\n"]
    finally:
        MigrationExecutor(connection).migrate(after)


def whole_database() -> str:
    """Every row of every table of ours, as a raw SQL dump would show it."""
    tables = [t for t in connection.introspection.table_names() if t.startswith("senders_")]
    quote = connection.ops.quote_name
    return "\n".join(repr(raw(f"SELECT * FROM {quote(table)}")) for table in tables)


def test_an_acknowledged_warning_keeps_the_rule_text_without_its_password(
    sender: MailSender,
) -> None:
    # A catch-all through a relay, with local domains: a possible relay loop, marked as
    # intended. The acknowledgement keeps the rule's text (it holds while the text does).
    sender.local_domains = "example.com"
    sender.save()
    rule = add_rule(sender, f"* joe:{SECRET}@smtp.corp.example", actor=ACTOR).rule
    assert rule is not None
    acknowledge_warning(rule, "relay-loop", actor=ACTOR)
    [(text,)] = raw("SELECT text FROM senders_warningacknowledgement")
    assert SECRET not in text
    assert TOKEN.search(text)
    assert WarningAcknowledgement.objects.get().text == f"* joe:{SECRET}@smtp.corp.example"
    # And nothing else anywhere in our tables holds it.
    assert SECRET not in whole_database()
    out = io.StringIO()
    call_command("reencrypt_secrets", stdout=out)
    assert out.getvalue() == (
        "Re-encrypted 4 passwords (1 rules, 2 revisions, 1 acknowledged warnings) "
        "with the first key.\n"
    )
    assert SECRET not in whole_database()
    assert WarningAcknowledgement.objects.get().text == f"* joe:{SECRET}@smtp.corp.example"


@pytest.mark.django_db(transaction=True)
def test_migration_0010_encrypts_the_rule_texts_kept_with_acknowledged_warnings() -> None:
    executor = MigrationExecutor(connection)
    before = [("senders", "0009_rule_position_at_statement_end")]
    after = executor.loader.graph.leaf_nodes("senders")
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        sender = old.get_model("senders", "MailSender").objects.create(name="Old", slug="old")
        text = f"* joe:{SECRET}@smtp.corp.example"
        rule = old.get_model("senders", "OverrideRule").objects.create(
            sender=sender, position=1, text=seal_passwords(text)
        )
        old.get_model("senders", "WarningAcknowledgement").objects.create(
            rule=rule, code="relay-loop", text=text
        )
        assert SECRET in whole_database()
        executor = MigrationExecutor(connection)
        executor.migrate(after)
        assert SECRET not in whole_database()
        assert WarningAcknowledgement.objects.get().text == text
        executor = MigrationExecutor(connection)
        executor.migrate(before)
        assert raw("SELECT text FROM senders_warningacknowledgement") == [(text,)]
    finally:
        MigrationExecutor(connection).migrate(after)


# ---------------------------------------------------------------- settings


def _settings(env: dict[str, str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PYTEST") and k not in ("SECRETS_ENCRYPTION_KEYS", "PRODUCTION")
    }
    environ |= {"DATA_DIR": str(data_dir), "SECRET_KEY": "x" * 50, **env}
    code = (
        "import os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'overrides_admin.settings');"
        "from django.conf import settings; print(','.join(settings.SECRETS_ENCRYPTION_KEYS))"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environ, capture_output=True, text=True
    )


def test_production_refuses_to_start_without_a_key(tmp_path: Path) -> None:
    result = _settings({"PRODUCTION": "1", "ALLOWED_HOSTS": "x.example"}, tmp_path)
    assert result.returncode != 0
    assert (
        "django.core.exceptions.ImproperlyConfigured: SECRETS_ENCRYPTION_KEYS is required when "
        "PRODUCTION is on: it encrypts the relay passwords in the database (generate one with: "
        "python -c 'from cryptography.fernet import Fernet; "
        "print(Fernet.generate_key().decode())')"
    ) in result.stderr


def test_a_key_that_is_not_a_fernet_key_is_refused(tmp_path: Path) -> None:
    result = _settings({"SECRETS_ENCRYPTION_KEYS": f"{OTHER_KEY}, not-a-key"}, tmp_path)
    assert result.returncode != 0
    assert (
        "ImproperlyConfigured: SECRETS_ENCRYPTION_KEYS: key 2 of 2 is not a Fernet key "
        "(32 url-safe base64-encoded bytes; generate one with: "
    ) in result.stderr
    assert "not-a-key" not in result.stderr  # keys are never printed


def test_outside_production_a_key_is_generated_once_for_the_owner_only(tmp_path: Path) -> None:
    first = _settings({}, tmp_path)
    second = _settings({}, tmp_path)
    assert first.returncode == 0, first.stderr
    key = first.stdout.strip()
    Fernet(key)  # a valid key
    assert second.stdout.strip() == key
    path = tmp_path / "secrets_encryption_key"
    assert path.read_text() == key
    assert path.stat().st_mode & 0o777 == 0o600
    # Keys from the environment win, in their order.
    result = _settings({"SECRETS_ENCRYPTION_KEYS": f"{OTHER_KEY},{key}"}, tmp_path)
    assert result.stdout.strip() == f"{OTHER_KEY},{key}"
