"""A Django storage backend that keeps files in the database (``StoredBlob``).

Why: the back office runs as several stateless processes; a scan saved on one process's disk
would be missing on the others. PostgreSQL already replicates and backs up, so files go there.
An S3-style store could replace this class without touching the callers.
"""

from __future__ import annotations

from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.utils.deconstruct import deconstructible


@deconstructible
class DatabaseStorage(Storage):
    def _model(self):  # type: ignore[no-untyped-def]
        from backoffice.cases.models import StoredBlob

        return StoredBlob

    def _open(self, name: str, mode: str = "rb") -> ContentFile:
        from backoffice.cases.blobs import read_blob

        return ContentFile(read_blob(name), name=name)

    def _save(self, name: str, content) -> str:  # type: ignore[no-untyped-def]
        from backoffice.cases.blobs import insert_blob

        content.seek(0)
        insert_blob(name, content.read())
        return name

    def exists(self, name: str) -> bool:
        return self._model().objects.filter(name=name).exists()

    def delete(self, name: str) -> None:
        self._model().objects.filter(name=name).delete()

    def size(self, name: str) -> int:
        return int(self._model().objects.values_list("size", flat=True).get(name=name))

    def url(self, name: str) -> str:
        raise NotImplementedError("scans are served through the case page, never by a public URL")
