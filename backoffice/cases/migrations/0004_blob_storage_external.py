"""On PostgreSQL, keep scan bytes out of line and uncompressed (STORAGE EXTERNAL): PDFs and JPEGs are
already compressed, so TOAST's pglz would spend CPU on every upload for nothing."""

from django.db import migrations

COLUMNS = (("cases_storedblob", "data"), ("cases_uploadchunk", "data"))


def forward(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        for table, column in COLUMNS:
            schema_editor.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET STORAGE EXTERNAL")


def backward(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        for table, column in COLUMNS:
            schema_editor.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET STORAGE EXTENDED")


class Migration(migrations.Migration):
    dependencies = [("cases", "0003_inbox_indexes_in_page_order")]
    operations = [migrations.RunPython(forward, backward)]
