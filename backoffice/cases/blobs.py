"""Scan bytes in and out of the database without text escaping.

Django's PostgreSQL backend binds parameters client-side, so a 1 MB ``bytea`` would travel as 2 MB
of hex inside the SQL text, and come back the same way. On PostgreSQL these few statements go
through a plain psycopg cursor on the same connection (same transaction) with binary parameters
and results; elsewhere (SQLite) through the ORM.

Every byte is sealed here (``backoffice.crypto.seal_blob``) on the way in and opened on the way out,
bound to the blob's name or the chunk's place, so scans are encrypted at rest like the identity and
a row copied elsewhere does not open.
"""

from __future__ import annotations

from django.db import connection

from backoffice.crypto import seal_blob, unseal_blob


def _pg() -> bool:
    return connection.vendor == "postgresql"


def _cursor():  # type: ignore[no-untyped-def]
    import psycopg

    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


def insert_blob(name: str, data: bytes) -> None:
    from backoffice.cases.models import StoredBlob

    sealed = seal_blob(data, f"blob:{name}")
    if not _pg():
        StoredBlob.objects.create(name=name, data=sealed, size=len(data))
        return
    with _cursor() as cur:
        cur.execute("INSERT INTO cases_storedblob (name, data, size, created_at) VALUES (%s, %b, %s, now())",
                    (name, sealed, len(data)))


def read_blob(name: str) -> bytes:
    from backoffice.cases.models import StoredBlob

    if not _pg():
        sealed = bytes(StoredBlob.objects.values_list("data", flat=True).get(name=name))
    else:
        with _cursor() as cur:
            cur.execute("SELECT data FROM cases_storedblob WHERE name = %s", (name,), binary=True)
            row = cur.fetchone()
        if row is None:
            raise StoredBlob.DoesNotExist(name)
        sealed = bytes(row[0])
    return unseal_blob(sealed, f"blob:{name}")


def insert_chunk(file_pk: int, start: int, data: bytes) -> None:
    from backoffice.cases.models import UploadChunk

    sealed = seal_blob(data, f"chunk:{file_pk}:{start}")
    if not _pg():
        UploadChunk.objects.create(file_id=file_pk, start=start, data=sealed)
        return
    with _cursor() as cur:
        cur.execute("INSERT INTO cases_uploadchunk (file_id, start, data) VALUES (%s, %s, %b)",
                    (file_pk, start, sealed))


def read_chunks(file_pk: int, before: int) -> list[tuple[int, bytes]]:
    """(start, bytes) of the file's chunks that begin before ``before``, in order."""
    from backoffice.cases.models import UploadChunk

    if not _pg():
        rows = [(s, bytes(d)) for s, d in UploadChunk.objects.filter(file_id=file_pk, start__lt=before)
                .order_by("start").values_list("start", "data")]
    else:
        with _cursor() as cur:
            cur.execute("SELECT start, data FROM cases_uploadchunk WHERE file_id = %s AND start < %s ORDER BY start",
                        (file_pk, before), binary=True)
            rows = [(int(s), bytes(d)) for s, d in cur.fetchall()]
    return [(s, unseal_blob(d, f"chunk:{file_pk}:{s}")) for s, d in rows]
