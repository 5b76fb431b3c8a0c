"""Where DICOM files live: Django's storage API, with atomic writes on local disk."""

import os
import tempfile

from django.core.files.storage import FileSystemStorage, storages


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
        fd, tmp_path = tempfile.mkstemp(dir=directory, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as tmp:
                for chunk in content.chunks():
                    tmp.write(chunk)
            os.chmod(tmp_path, 0o640)
            os.replace(tmp_path, full_path)
        except BaseException:
            try:
                os.unlink(tmp_path)
            except FileNotFoundError:
                pass
            raise
        return name

    def get_available_name(self, name, max_length=None):
        return name  # content-addressed: the same name means the same bytes


def dicom_storage():
    return storages["dicom"]
