from django.db import migrations

import senders.fields

# An acknowledgement keeps the rule text it was given for, which may hold a relay
# password: until now in clear (rules and revisions were encrypted by 0002). Raw SQL,
# so that the field's own conversions do not get in the way; every password here is
# clear text before this migration.
BATCH = 200


def _rewrite(apps, schema_editor, change):
    connection = schema_editor.connection
    quote = connection.ops.quote_name
    model = apps.get_model("senders", "warningacknowledgement")
    table = quote(model._meta.db_table)
    column = quote(model._meta.get_field("text").column)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {table} WHERE {column} LIKE %s", ["%@%"])
        ids = [row[0] for row in cursor.fetchall()]
        for start in range(0, len(ids), BATCH):
            batch = ids[start : start + BATCH]
            marks = ", ".join(["%s"] * len(batch))
            cursor.execute(f"SELECT id, {column} FROM {table} WHERE id IN ({marks})", batch)
            for pk, text in cursor.fetchall():
                new = change(text)
                if new != text:
                    cursor.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s", [new, pk])


def encrypt_passwords(apps, schema_editor):
    _rewrite(apps, schema_editor, senders.fields.seal_all_passwords)


def decrypt_passwords(apps, schema_editor):
    _rewrite(apps, schema_editor, senders.fields.open_passwords)


class Migration(migrations.Migration):
    dependencies = [
        ("senders", "0009_rule_position_at_statement_end"),
    ]

    operations = [
        migrations.AlterField(
            model_name="warningacknowledgement",
            name="text",
            field=senders.fields.EncryptedPasswordsField(),
        ),
        migrations.RunPython(encrypt_passwords, decrypt_passwords, elidable=False),
    ]
