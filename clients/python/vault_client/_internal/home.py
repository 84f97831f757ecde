"""The home directory: where it is, the files a client keeps there, the locks that let
several programs of one person share them, and destroying them."""

from __future__ import annotations

import contextlib
import os
from typing import Any, Final

import platformdirs

from vault_client._internal.keys import destroy_file
from vault_client.errors import LocalStoreError

KEYSTORE_FILE: Final = "keystore.vault"
DATABASE_FILE: Final = "client.db"
LOCK_FILE: Final = ".lock"
KEYSTORE_LOCK: Final = ".keystore.lock"
SEND_LOCK: Final = ".send.lock"
HOME_FILES: Final = (DATABASE_FILE, DATABASE_FILE + "-wal", DATABASE_FILE + "-shm",
                     KEYSTORE_FILE, KEYSTORE_LOCK, SEND_LOCK, LOCK_FILE)


def default_home() -> str:
    """``$VAULT_HOME``, else the platform's user data directory for Vault."""
    return os.environ.get("VAULT_HOME") or platformdirs.user_data_dir("vault", appauthor=False)


def has_keystore(home: str | os.PathLike[str] | None = None) -> bool:
    """Whether *home* (default :func:`default_home`) already holds a keystore.

    A :class:`Client` opened where there is none creates one under the passphrase it is
    given, so a user interface asks for a new passphrase twice (to confirm it) when this is
    False, and once otherwise."""
    return os.path.isfile(os.path.join(home_path(home), KEYSTORE_FILE))


def wipe_home(home: str | os.PathLike[str] | None = None) -> bool:
    """Destroy the keystore and the local store in *home* without opening them (for
    instance when the passphrase is lost): every file is overwritten, then removed. Returns
    False when there was nothing to destroy. Raises :class:`LocalStoreError` while a client
    is using *home*. This cannot be undone (:meth:`Client.wipe` does the same for an open
    client)."""
    path = home_path(home)
    if not any(os.path.exists(os.path.join(path, name)) for name in HOME_FILES):
        return False
    handle = lock_home(path, exclusive=True)
    try:
        destroy_home(path)
    finally:
        unlock_home(handle)
    return True


def home_path(home: str | os.PathLike[str] | None) -> str:
    return os.path.abspath(os.fspath(home) if home is not None else default_home())


def lock_home(home: str, *, exclusive: bool = False) -> Any:
    """Hold a lock on the home directory for the client's lifetime: shared, so several
    programs of one person (a window that follows a group, a terminal that posts) use it
    at once; exclusive to destroy it, which then waits for no one and fails while any
    client has it open."""
    path = os.path.join(home, LOCK_FILE)
    handle = open(path, "a+b")  # noqa: SIM115 - held open on purpose
    try:
        import fcntl

        fcntl.flock(handle.fileno(), (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
                    | fcntl.LOCK_NB)
    except ImportError:  # pragma: no cover - not POSIX: no lock
        pass
    except OSError:
        handle.close()
        raise LocalStoreError(
            f"another Vault program is using {home}; close it first" if exclusive else
            f"{home} is being wiped; try again when that is done") from None
    return handle


def upgrade_lock(handle: Any, home: str) -> None:
    """From a client's shared lock to the exclusive one wiping needs (fails while another
    program has the home open)."""
    try:
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except ImportError:  # pragma: no cover
        pass
    except OSError:
        raise LocalStoreError(
            f"another Vault program is using {home}; close it first") from None


def unlock_home(handle: Any) -> None:
    with contextlib.suppress(OSError):
        handle.close()


def destroy_home(home: str) -> None:
    """Overwrite and remove every file a client keeps in *home*, then *home* if empty."""
    for name in HOME_FILES:
        destroy_file(os.path.join(home, name))
    with contextlib.suppress(OSError):
        os.rmdir(home)
