"""DICOM files encrypted at rest, readable at any offset without decrypting the whole file.

The format is segmented AES-256-GCM in the STREAM construction (Hoang, Reyhanitabar, Rogaway,
Vizár 2015; the one Tink's streaming AEAD uses):

    header  = MAGIC (8) | key id (8) | salt (16) | nonce prefix (7) | reserved (1)   = 40 bytes
    segment = AES-GCM(file key, nonce_i, plaintext[i*S:(i+1)*S], aad=header)         = S + 16

* The file key is HKDF-SHA256(master key, salt) with a random salt per file, so no two files
  share a key and the GCM nonce space is never close to exhausted.
* nonce_i = nonce prefix | i (4 bytes, big-endian) | 1 if the segment is the last, else 0:
  segments cannot be reordered, moved between files or dropped from the end undetected.
* A frame, a bulk data range or a Range request decrypts only the segments it overlaps
  (S = 64 KiB), each of which is authenticated: a changed byte anywhere is an error, not
  silently wrong pixels.

The key id names which master key wrote the file, so keys can be rotated (``manage.py
rotate_dicom_keys``) while files written with older keys stay readable. Files without the magic
are plain DICOM (written before encryption was switched on) and are read as they are.

No Django here: the storage backend (``imaging.storage``) passes the keys in.
"""

import hashlib
import hmac
import io
import os
import struct
from base64 import urlsafe_b64decode

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"AIMDCE1\x00"
HEADER_SIZE = 40
SEGMENT = 64 * 1024  # plaintext bytes per segment
TAG = 16
_INFO = b"aimass dicom file key v1"


class DecryptionError(ValueError):
    """The file is damaged, was altered, or was written with a key that is not configured."""


class MasterKey:
    """One 256-bit master key, given as URL-safe base64 (``Fernet.generate_key()`` makes one)."""

    def __init__(self, encoded: str):
        try:
            raw = urlsafe_b64decode(encoded.strip().encode())
        except ValueError as exc:
            raise ValueError("A DICOM encryption key is not valid base64.") from exc
        if len(raw) != 32:
            raise ValueError("A DICOM encryption key must be 32 bytes (URL-safe base64).")
        self._raw = raw
        self.key_id = hmac.new(raw, b"aimass dicom key id", hashlib.sha256).digest()[:8]

    def file_key(self, salt: bytes) -> AESGCM:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=_INFO).derive(
            self._raw
        )
        return AESGCM(derived)


class KeyRing:
    """The configured master keys; the first writes, all of them read."""

    def __init__(self, encoded_keys):
        self.keys = [MasterKey(k) for k in encoded_keys if k.strip()]
        if not self.keys:
            raise ValueError("No DICOM encryption key is configured.")
        self._by_id = {k.key_id: k for k in self.keys}

    @property
    def current(self) -> MasterKey:
        return self.keys[0]

    def for_id(self, key_id: bytes) -> MasterKey:
        try:
            return self._by_id[key_id]
        except KeyError:
            raise DecryptionError(
                "The file was encrypted with a key that is not configured "
                "(DICOM_ENCRYPTION_KEYS)."
            ) from None


def is_encrypted(head: bytes) -> bool:
    return head[: len(MAGIC)] == MAGIC


def header_key_id(head: bytes) -> bytes:
    return head[8:16]


def ciphertext_size(plain_size: int) -> int:
    segments = max(1, -(-plain_size // SEGMENT))
    return HEADER_SIZE + plain_size + segments * TAG


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + struct.pack(">I", index) + (b"\x01" if last else b"\x00")


def encrypt_stream(source, target, key: MasterKey) -> int:
    """Encrypt everything ``source.read()`` gives into ``target``; returns the plaintext size."""
    salt, prefix = os.urandom(16), os.urandom(7)
    header = MAGIC + key.key_id + salt + prefix + b"\x00"
    aead = key.file_key(salt)
    target.write(header)
    index, total = 0, 0
    pending = _read_full(source, SEGMENT)
    while True:
        following = _read_full(source, SEGMENT) if len(pending) == SEGMENT else b""
        last = not following
        target.write(aead.encrypt(_nonce(prefix, index, last), pending, header))
        total += len(pending)
        if last:
            return total
        pending, index = following, index + 1


def _read_full(source, size: int) -> bytes:
    chunks, wanted = [], size
    while wanted:
        chunk = source.read(wanted)
        if not chunk:
            break
        chunks.append(chunk)
        wanted -= len(chunk)
    return b"".join(chunks)


class DecryptingReader(io.RawIOBase):
    """A read-only, seekable view of the plaintext of an encrypted file."""

    def __init__(self, raw, keys: KeyRing):
        self._raw = raw
        header = raw.read(HEADER_SIZE)
        if len(header) < HEADER_SIZE or not is_encrypted(header):
            raise DecryptionError("Not an encrypted DICOM file.")
        self._header = header
        self._prefix = header[32:39]
        self._aead = keys.for_id(header_key_id(header)).file_key(header[16:32])
        body = os.fstat(raw.fileno()).st_size - HEADER_SIZE
        segments = -(-body // (SEGMENT + TAG))
        if segments < 1 or body - segments * TAG < 0:
            raise DecryptionError("The encrypted file is truncated.")
        self._segments = segments
        self._size = body - segments * TAG
        self._position = 0
        self._cached = (-1, b"")

    @property
    def size(self) -> int:
        return self._size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            position = offset
        elif whence == io.SEEK_CUR:
            position = self._position + offset
        elif whence == io.SEEK_END:
            position = self._size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if position < 0:
            raise ValueError("negative seek position")
        self._position = position
        return position

    def _segment(self, index: int) -> bytes:
        if self._cached[0] == index:
            return self._cached[1]
        self._raw.seek(HEADER_SIZE + index * (SEGMENT + TAG))
        sealed = self._raw.read(SEGMENT + TAG)
        last = index == self._segments - 1
        try:
            plain = self._aead.decrypt(_nonce(self._prefix, index, last), sealed, self._header)
        except InvalidTag:
            raise DecryptionError(
                "The encrypted DICOM file failed its integrity check (altered or damaged)."
            ) from None
        self._cached = (index, plain)
        return plain

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        wanted = min(len(view), self._size - self._position)
        if wanted <= 0:
            return 0
        done = 0
        while done < wanted:
            index, skip = divmod(self._position + done, SEGMENT)
            plain = self._segment(index)
            piece = plain[skip : skip + wanted - done]
            if not piece:
                raise DecryptionError("The encrypted file is shorter than its segments say.")
            view[done : done + len(piece)] = piece
            done += len(piece)
        self._position += done
        return done

    def readall(self) -> bytes:
        return self.read(self._size - self._position) if self._position < self._size else b""

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()

    def fileno(self) -> int:
        raise io.UnsupportedOperation("an encrypted file has no plaintext file descriptor")
