"""Files this device writes for its owner, each new and owner-only, never over another
file (:func:`write_new_file`): a downloaded attachment under the name its author's file had,
``notes.txt``, then ``notes (2).txt``, … (the name already passed the protocol's file-name
rule, ATT-3: it is one path component, without controls or bidirectional tricks), and an
export of one's own posts (:mod:`.exporting`)."""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path

from vault_client.errors import InvalidArgumentError

_MOST_COPIES = 1000


def write_new_file(path: Path, data: bytes) -> None:
    """Write *data* to a new owner-only file at *path*, to the disk (fsync). Raises
    ``FileExistsError`` when something is there (a symbolic link included), other
    ``OSError`` when it cannot be written; no half-written file is left, whatever stops it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:  # (a full disk, Ctrl-C while writing)
        path.unlink(missing_ok=True)
        raise


def save_new_file(directory: str | os.PathLike[str], file_name: str, media_type: str,
                  fallback_stem: str, data: bytes) -> Path:
    """Write *data* to a new owner-only file in *directory*; returns its path."""
    folder = Path(directory)
    if not file_name:
        file_name = fallback_stem + (mimetypes.guess_extension(media_type) or ".bin")
    stem, dot, extension = file_name.rpartition(".")
    if not stem:  # no dot, or a name such as ".profile"
        stem, dot, extension = file_name, "", ""
    for copy in range(1, _MOST_COPIES + 1):
        name = file_name if copy == 1 else f"{stem} ({copy}){dot}{extension}"
        try:
            write_new_file(folder / name, data)
        except FileExistsError:
            continue
        except OSError as error:
            raise InvalidArgumentError(f"cannot save in {folder} ({error.strerror or 'error'})"
                                       ) from None
        return folder / name
    raise InvalidArgumentError(f"{folder} already holds {_MOST_COPIES} files named like "
                               f"{file_name}: choose another folder")
