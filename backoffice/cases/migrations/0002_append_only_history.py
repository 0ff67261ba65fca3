"""On PostgreSQL, the database itself refuses to rewrite history: a trigger raises on UPDATE or
DELETE of case history and identity-reveal rows, whatever code or SQL session tries it.
(TRUNCATE, which only an owner doing maintenance would run, is not a row change.)"""

from django.db import migrations

TABLES = ("cases_casehistory", "cases_identityreveal")

FORWARD = """
CREATE OR REPLACE FUNCTION backoffice_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'append-only: % on % is not allowed', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END $$ LANGUAGE plpgsql;
""" + "".join(f"""
CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t}
  FOR EACH ROW EXECUTE FUNCTION backoffice_append_only();
""" for t in TABLES)

BACKWARD = "".join(f"DROP TRIGGER IF EXISTS {t}_append_only ON {t};\n" for t in TABLES) + \
    "DROP FUNCTION IF EXISTS backoffice_append_only();"


def forward(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)  # no params: '%' is plpgsql's, not a placeholder


def backward(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
