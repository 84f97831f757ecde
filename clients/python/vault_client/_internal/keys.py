"""The unlocked keystore, kept for the client's lifetime (one Argon2id run to open it).

Entries: ``local-store`` (the secret the local store key derives from) and one
``identity/<group id>`` per group. The passphrase is kept only inside a :class:`Passphrase`
(its ``repr`` hides it) because every save seals the file again under it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from typing import Final

from vault.crypto.encoding import b64encode
from vault.crypto.errors import KeystoreLockedError, KeystoreMissingError, PassphraseRejectedError
from vault.crypto.identity import Identity
from vault.crypto.keystore import KeystoreContents
from vault.crypto.localstore import local_store_key, new_local_store_secret
from vault.keyfile import load_keystore, save_keystore

LOCAL_STORE_ENTRY: Final = "local-store"
_IDENTITY_PREFIX: Final = "identity/"

PassphraseSource = str | Callable[[], str]


class Passphrase:
    """Holds a passphrase (or asks for it once); never shows it in a repr or traceback."""

    __slots__ = ("_source", "_value")

    def __init__(self, source: PassphraseSource) -> None:
        if not isinstance(source, str) and not callable(source):
            raise TypeError("the passphrase is a str or a callable returning one")
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
    """The keystore file at *path*, opened once and re-sealed on every change."""

    def __init__(self, path: str, passphrase: Passphrase) -> None:
        self.path = path
        self._passphrase = passphrase
        self._contents: KeystoreContents | None = None

    def unlock(self) -> None:
        if self._contents is not None:
            return
        try:
            contents = load_keystore(self.path, self._passphrase.get())
        except KeystoreMissingError:
            contents = KeystoreContents(((LOCAL_STORE_ENTRY, new_local_store_secret()),))
            save_keystore(self.path, contents, self._passphrase.get())
        except KeystoreLockedError:
            self._passphrase.forget()
            raise
        if LOCAL_STORE_ENTRY not in contents:
            contents = contents.with_entry(LOCAL_STORE_ENTRY, new_local_store_secret())
            save_keystore(self.path, contents, self._passphrase.get())
        self._contents = contents

    @property
    def contents(self) -> KeystoreContents:
        self.unlock()
        assert self._contents is not None
        return self._contents

    def _save(self, contents: KeystoreContents) -> None:
        save_keystore(self.path, contents, self._passphrase.get())
        self._contents = contents

    def store_key(self) -> bytes:
        secret = self.contents.get(LOCAL_STORE_ENTRY)
        assert secret is not None
        return local_store_key(secret)

    def identity(self, group_id: bytes) -> Identity | None:
        raw = self.contents.get(_name(group_id))
        return None if raw is None else Identity.decode_private(raw)

    def add_identity(self, group_id: bytes, identity: Identity) -> None:
        self._save(self.contents.with_entry(_name(group_id), identity.encode_private()))

    def remove_identity(self, group_id: bytes) -> None:
        if _name(group_id) in self.contents:
            self._save(self.contents.without_entry(_name(group_id)))

    def lock(self) -> None:
        self._contents = None


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
