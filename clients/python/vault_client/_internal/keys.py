"""The unlocked keystore, kept for the client's lifetime (one Argon2id run to open it).

Entries: ``local-store`` (the secret the local store key derives from) and one
``identity/<group id>`` per group. The passphrase is kept only inside a :class:`Passphrase`
(its ``repr`` hides it) because every save seals the file again under it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterator
from typing import Final

from vault.crypto.encoding import b64encode
from vault.crypto.errors import KeystoreLockedError, KeystoreMissingError, PassphraseRejectedError
from vault.crypto.identity import Identity
from vault.crypto.keystore import KeystoreContents
from vault.crypto.localstore import local_store_key, new_local_store_secret
from vault.keyfile import load_keystore, save_keystore
from vault_client._internal.strength import require_strong
from vault_client.errors import InvalidArgumentError

LOCAL_STORE_ENTRY: Final = "local-store"
_IDENTITY_PREFIX: Final = "identity/"

PassphraseSource = str | Callable[[], str]


class Passphrase:
    """Holds a passphrase (or asks for it once); never shows it in a repr or traceback."""

    __slots__ = ("_source", "_value")

    def __init__(self, source: PassphraseSource) -> None:
        if not isinstance(source, str) and not callable(source):
            raise InvalidArgumentError("the passphrase is text, or a function that returns it")
        self._source = source
        self._value: str | None = source if isinstance(source, str) else None

    def get(self) -> str:
        if self._value is None:
            assert callable(self._source)
            value = self._source()
            if not isinstance(value, str):
                raise PassphraseRejectedError("the passphrase callback did not return text")
            self._value = value
        return self._value

    def forget(self) -> None:
        self._value = None if not isinstance(self._source, str) else self._value

    def __repr__(self) -> str:
        return "Passphrase(<hidden>)"


def _name(group_id: bytes) -> str:
    return _IDENTITY_PREFIX + b64encode(group_id)


class KeyHolder:
    """The keystore file at *path*, opened once and re-sealed on every change.

    Several programs of one person may share it: a change is made under an exclusive lock
    (*lock_path*) on the file as it is now (read again first if another program changed it
    since), so no program's change undoes another's; and what another program added (a
    group it joined) is read when it is needed."""

    def __init__(self, path: str, passphrase: Passphrase, lock_path: str | None = None) -> None:
        self.path = path
        self._lock_path = lock_path or path + ".lock"
        self._passphrase = passphrase
        self._contents: KeystoreContents | None = None
        self._seen: tuple[int, int] | None = None

    def _stamp(self) -> tuple[int, int] | None:
        try:
            info = os.stat(self.path)
        except OSError:
            return None
        return (info.st_mtime_ns, info.st_size)

    def unlock(self) -> None:
        if self._contents is not None:
            return
        with exclusive_lock(self._lock_path):
            try:
                contents = load_keystore(self.path, self._passphrase.get())
            except KeystoreMissingError:
                require_strong(self._passphrase.get(), "this device's keystore")
                contents = KeystoreContents(((LOCAL_STORE_ENTRY, new_local_store_secret()),))
                save_keystore(self.path, contents, self._passphrase.get())
            except KeystoreLockedError:
                self._passphrase.forget()
                raise
            if LOCAL_STORE_ENTRY not in contents:
                contents = contents.with_entry(LOCAL_STORE_ENTRY, new_local_store_secret())
                save_keystore(self.path, contents, self._passphrase.get())
            self._contents = contents
            self._seen = self._stamp()

    @property
    def contents(self) -> KeystoreContents:
        self.unlock()
        assert self._contents is not None
        return self._contents

    def refresh(self) -> None:
        """Read the file again if another program changed it (Argon2id: only then)."""
        if self._contents is not None and self._stamp() != self._seen:
            self._contents = None
            self.unlock()

    def _change(self, change: Callable[[KeystoreContents], KeystoreContents]) -> None:
        with exclusive_lock(self._lock_path):
            if self._stamp() != self._seen:
                self._contents = load_keystore(self.path, self._passphrase.get())
            contents = change(self.contents)
            save_keystore(self.path, contents, self._passphrase.get())
            self._contents = contents
            self._seen = self._stamp()

    def store_key(self) -> bytes:
        secret = self.contents.get(LOCAL_STORE_ENTRY)
        assert secret is not None
        return local_store_key(secret)

    def identity(self, group_id: bytes) -> Identity | None:
        raw = self.contents.get(_name(group_id))
        if raw is None and self._stamp() != self._seen:
            self.refresh()  # another program may have joined the group
            raw = self.contents.get(_name(group_id))
        return None if raw is None else Identity.decode_private(raw)

    def add_identity(self, group_id: bytes, identity: Identity) -> None:
        self._change(lambda c: c.with_entry(_name(group_id), identity.encode_private()))

    def remove_identity(self, group_id: bytes) -> None:
        self._change(lambda c: c.without_entry(_name(group_id)) if _name(group_id) in c else c)

    def lock(self) -> None:
        self._contents = None


@contextlib.contextmanager
def exclusive_lock(path: str) -> Iterator[None]:
    """One program at a time, among those sharing a home, inside this block: an exclusive
    lock on the file *path* (waits for it)."""
    with open(path, "a+b") as handle:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no lock
            yield
            return
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def destroy_file(path: str) -> None:
    """Overwrite a file with random bytes, flush it, then remove it (best effort on flash)."""
    try:
        size = os.path.getsize(path)
    except OSError:
        return
    with contextlib.suppress(OSError), open(path, "r+b") as handle:
        remaining = size
        while remaining > 0:
            chunk = min(remaining, 1 << 20)
            handle.write(secrets.token_bytes(chunk))
            remaining -= chunk
        handle.flush()
        os.fsync(handle.fileno())
    with contextlib.suppress(OSError):
        os.unlink(path)
