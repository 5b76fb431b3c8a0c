"""Where DICOM files live: Django's storage API, with atomic writes on local disk, optionally
encrypted at rest."""

import io
import os
import tempfile
from contextlib import contextmanager

from django.core.files import File
from django.core.files.storage import FileSystemStorage, storages

from .encryption import MAGIC, SEGMENT, DecryptingReader, KeyRing, encrypt_stream, is_encrypted


def atomic_write(full_path: str, write) -> None:
    """Call ``write(file)`` on a temporary file beside ``full_path``, then rename it into place:
    a crash mid-write never leaves a half file under the real name."""
    fd, tmp_path = tempfile.mkstemp(dir=os.path.dirname(full_path), prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as tmp:
            write(tmp)
        os.chmod(tmp_path, 0o640)
        os.replace(tmp_path, full_path)
    except BaseException:
        try:
            os.unlink(tmp_path)
        except FileNotFoundError:
            pass
        raise


class AtomicFileSystemStorage(FileSystemStorage):
    """Writes to a temporary file beside the target and renames it into place, so a crash
    mid-write never leaves a half file under a real name. Names are content-addressed by the
    caller, so an existing name already holds the same bytes and is kept."""

    def _save(self, name, content):
        full_path = self.path(name)
        directory = os.path.dirname(full_path)
        os.makedirs(directory, exist_ok=True)
        if os.path.exists(full_path):
            return name
        self._write(full_path, content)
        return name

    def _write(self, full_path: str, content) -> None:
        def copy(tmp):
            for chunk in content.chunks():
                tmp.write(chunk)

        atomic_write(full_path, copy)

    def get_available_name(self, name, max_length=None):
        return name  # content-addressed: the same name means the same bytes


def dicom_storage():
    return storages["dicom"]


class EncryptedFileSystemStorage(AtomicFileSystemStorage):
    """DICOM files encrypted at rest (``imaging.encryption``), switched on by setting
    ``DICOM_ENCRYPTION_KEYS``. ``open()`` returns a seekable plaintext view that decrypts only
    the segments a read touches, so frame and Range reads stay cheap. Files stored before
    encryption was switched on are read as they are until ``manage.py rotate_dicom_keys``
    encrypts them."""

    encrypts = True

    def __init__(self, *args, keys=None, **kwargs):
        super().__init__(*args, **kwargs)
        from django.conf import settings

        self.keys = KeyRing(keys if keys is not None else settings.DICOM_ENCRYPTION_KEYS)

    def _write(self, full_path: str, content) -> None:
        self.write_encrypted(full_path, content)

    def write_encrypted(self, full_path: str, source, key=None) -> None:
        """Encrypt ``source`` (a file or anything with ``read``) into ``full_path`` atomically."""
        atomic_write(full_path, lambda tmp: encrypt_stream(source, tmp, key or self.keys.current))

    def _open(self, name, mode="rb"):
        if "w" in mode or "a" in mode or "+" in mode:
            raise ValueError("Stored DICOM files are written once, through save().")
        raw = open(self.path(name), "rb")  # noqa: SIM115 - handed to the reader, closed by it
        if not is_encrypted(raw.read(len(MAGIC))):
            raw.seek(0)
            return File(raw, name=name)
        raw.seek(0)
        try:
            reader = DecryptingReader(raw, self.keys)
        except BaseException:
            raw.close()
            raise
        return File(io.BufferedReader(reader, buffer_size=SEGMENT), name=name)

    def size(self, name):
        with open(self.path(name), "rb") as raw:
            if not is_encrypted(raw.read(len(MAGIC))):
                return os.fstat(raw.fileno()).st_size
            raw.seek(0)
            return DecryptingReader(raw, self.keys).size


@contextmanager
def stored_file(name: str):
    """The stored DICOM file ``name`` as a seekable binary file of its plaintext (decrypted
    when the store encrypts). Plain files are opened directly: the frame path stays a bare
    ``open`` + ``seek`` + ``read``."""
    storage = dicom_storage()
    if isinstance(storage, FileSystemStorage) and not getattr(storage, "encrypts", False):
        f = open(storage.path(name), "rb")  # noqa: SIM115
    else:
        f = storage.open(name, "rb")
    try:
        yield f
    finally:
        f.close()
