"""The one place keystore bytes touch a disk.

Writes are atomic: the new bytes go to a private (0600) temporary file in the same
directory, are flushed to disk, then replace the old file in one rename, and the
directory entry is flushed too. A crash leaves either the old keystore or the new one,
never half of either. Reads never modify the file, whatever is wrong with it.
"""

from __future__ import annotations

import contextlib
import os
import secrets

from vault.crypto.errors import KeystoreCorruptError, KeystoreMissingError
from vault.crypto.keystore import (
    MAX_FILE_BYTES,
    KdfParams,
    KeystoreContents,
    keystore_params,
    open_keystore,
    seal_keystore,
)

StrPath = str | os.PathLike[str]

FILE_MODE = 0o600
_DEFAULT_PARAMS = KdfParams()


def _fsync_directory(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # some platforms cannot open directories; the rename still happened
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def write_keystore_file(path: StrPath, data: bytes) -> None:
    """Atomically replace the keystore at *path* with *data* (readable by the owner only).

    Refuses bytes that are not a sealed keystore, so plaintext keys are never written.
    """
    keystore_params(data)  # raises KeystoreCorruptError / WeakKdfParametersError
    target = os.path.abspath(os.fspath(path))
    directory = os.path.dirname(target)
    temp = os.path.join(directory, f".{os.path.basename(target)}.{secrets.token_hex(8)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(temp, flags, FILE_MODE)
    try:
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, FILE_MODE)  # whatever the umask
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_directory(directory)


def read_keystore_file(path: StrPath) -> bytes:
    """The bytes of the keystore at *path*.

    :class:`KeystoreMissingError` (a :class:`KeystoreCorruptError`) when there is no file,
    :class:`KeystoreCorruptError` when it cannot be read or is far too large to be one.
    """
    where = os.fspath(path)
    try:
        with open(where, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise KeystoreMissingError(f"there is no keystore file at {where}") from None
    except IsADirectoryError:
        raise KeystoreCorruptError(f"{where} is a folder, not a keystore file") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise KeystoreCorruptError(
            f"the keystore file at {where} could not be read ({reason})"
        ) from None
    if len(data) > MAX_FILE_BYTES:
        raise KeystoreCorruptError(f"{where} is too large to be a Vault keystore")
    return data


def load_keystore(path: StrPath, passphrase: str) -> KeystoreContents:
    """Read and open the keystore at *path* (see :func:`vault.crypto.keystore.open_keystore`)."""
    return open_keystore(read_keystore_file(path), passphrase)


def save_keystore(
    path: StrPath,
    contents: KeystoreContents,
    passphrase: str,
    params: KdfParams = _DEFAULT_PARAMS,
) -> None:
    """Seal *contents* under *passphrase* and atomically write it to *path*."""
    sealed = seal_keystore(contents, passphrase, params=params)
    write_keystore_file(path, sealed)
