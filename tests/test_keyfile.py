"""Keystore files on disk: atomic, private, and never modified by a failed open."""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from vault import keyfile
from vault.crypto import keystore
from vault.crypto.errors import (
    KeystoreCorruptError,
    KeystoreLockedError,
    KeystoreMissingError,
    WeakKdfParametersError,
)
from vault.crypto.keystore import MAX_FILE_BYTES, KdfParams, KeystoreContents
from vault.keyfile import (
    load_keystore,
    read_keystore_file,
    save_keystore,
    write_keystore_file,
)

PASSPHRASE = "a long and private passphrase"
CONTENTS = KeystoreContents((("identity:one", bytes(range(66))), ("store", b"k" * 32)))
POSIX = os.name == "posix"


def _modes_bind() -> bool:
    """Whether this process is refused a file whose mode forbids it (root with its usual
    capabilities is not; .ci/run drops them, so CI runs the test that needs this)."""
    if not POSIX:
        return False
    with tempfile.TemporaryDirectory() as folder:
        probe = Path(folder) / "probe"
        probe.write_bytes(b"")
        probe.chmod(0)
        try:
            probe.read_bytes()
        except PermissionError:
            return True
        return False


def cheap_kdf_fn(secret: bytes, salt: bytes, params: KdfParams) -> bytes:
    cost = f"{params.time_cost},{params.memory_kib},{params.parallelism}".encode()
    return hashlib.blake2b(secret + b"|" + salt + b"|" + cost, digest_size=32).digest()


@pytest.fixture
def cheap_kdf(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(keystore, "_kdf", cheap_kdf_fn)
    yield


def snapshot(path: Path) -> tuple[bytes, int, int]:
    info = path.stat()
    return path.read_bytes(), info.st_mtime_ns, stat.S_IMODE(info.st_mode)


def test_real_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "keys.vault"
    save_keystore(path, CONTENTS, PASSPHRASE)
    assert load_keystore(str(path), PASSPHRASE) == CONTENTS
    assert keystore.keystore_params(path.read_bytes()) == KdfParams()


@pytest.mark.skipif(not POSIX, reason="POSIX permissions")
def test_file_is_private_whatever_the_umask(tmp_path: Path, cheap_kdf: None) -> None:
    path = tmp_path / "keys.vault"
    old = os.umask(0)
    try:
        save_keystore(path, CONTENTS, PASSPHRASE)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o644)
    save_keystore(path, CONTENTS, PASSPHRASE)  # replacing a too-open file fixes it
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_overwrite_is_atomic_and_leaves_no_temp_files(tmp_path: Path, cheap_kdf: None) -> None:
    path = tmp_path / "keys.vault"
    save_keystore(path, CONTENTS, PASSPHRASE)
    first = path.read_bytes()
    bigger = CONTENTS.with_entry("identity:two", bytes(66))
    save_keystore(path, bigger, PASSPHRASE)
    assert path.read_bytes() != first
    assert load_keystore(path, PASSPHRASE) == bigger
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keys.vault"]


@pytest.mark.parametrize("failing", ["replace", "fsync", "write"])
def test_failed_write_keeps_the_old_file(
    tmp_path: Path, cheap_kdf: None, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    path = tmp_path / "keys.vault"
    save_keystore(path, CONTENTS, PASSPHRASE)
    before = path.read_bytes()

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, failing, boom)
    with pytest.raises(OSError, match="No space"):
        save_keystore(path, CONTENTS.with_entry("x", b"y"), PASSPHRASE)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keys.vault"]


def test_refuses_to_write_bytes_that_are_not_a_sealed_keystore(tmp_path: Path) -> None:
    path = tmp_path / "keys.vault"
    with pytest.raises(KeystoreCorruptError):
        write_keystore_file(path, CONTENTS.encode())  # plaintext keys: never on disk
    header = bytes.fromhex("0f01000000010001000000000004") + bytes(40)
    weak = header + (16).to_bytes(4, "big") + bytes(16)
    with pytest.raises(WeakKdfParametersError):
        write_keystore_file(path, weak)
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "keys.vault"
    with pytest.raises(KeystoreMissingError, match="no keystore file at") as info:
        read_keystore_file(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, KeystoreCorruptError)
    with pytest.raises(KeystoreMissingError):
        load_keystore(path, PASSPHRASE)


def test_unreadable_paths(tmp_path: Path) -> None:
    with pytest.raises(KeystoreCorruptError, match="folder") as info:
        read_keystore_file(tmp_path)
    assert str(tmp_path) in str(info.value)
    huge = tmp_path / "huge.vault"
    with huge.open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(KeystoreCorruptError, match="too large"):
        read_keystore_file(huge)


@pytest.mark.skipif(not _modes_bind(),
                    reason="file modes do not bind this process (root with CAP_DAC_OVERRIDE)")
def test_permission_denied_is_corrupt_and_names_the_path(tmp_path: Path, cheap_kdf: None) -> None:
    path = tmp_path / "keys.vault"
    save_keystore(path, CONTENTS, PASSPHRASE)
    path.chmod(0)
    try:
        with pytest.raises(KeystoreCorruptError, match="could not be read"):
            read_keystore_file(path)
    finally:
        path.chmod(0o600)


def test_wrong_passphrase_leaves_the_file_untouched(tmp_path: Path) -> None:
    path = tmp_path / "keys.vault"
    save_keystore(path, CONTENTS, PASSPHRASE)
    before = snapshot(path)
    with pytest.raises(KeystoreLockedError, match="wrong passphrase"):
        load_keystore(path, "not the passphrase")
    assert snapshot(path) == before


def test_truncated_file_is_corrupt_and_untouched(tmp_path: Path, cheap_kdf: None) -> None:
    path = tmp_path / "keys.vault"
    save_keystore(path, CONTENTS, PASSPHRASE)
    path.write_bytes(path.read_bytes()[:-7])
    before = snapshot(path)
    with pytest.raises(KeystoreCorruptError, match="truncated"):
        load_keystore(path, PASSPHRASE)
    assert snapshot(path) == before
    path.write_bytes(b"")
    with pytest.raises(KeystoreCorruptError, match="empty"):
        load_keystore(path, PASSPHRASE)
    assert path.read_bytes() == b""


def test_every_tampered_byte_is_rejected_and_the_file_untouched(
    tmp_path: Path, cheap_kdf: None
) -> None:
    path = tmp_path / "keys.vault"
    save_keystore(path, CONTENTS, PASSPHRASE)
    good = path.read_bytes()
    for position in range(len(good)):
        tampered = bytearray(good)
        tampered[position] ^= 0x40
        path.write_bytes(bytes(tampered))
        before = snapshot(path)
        with pytest.raises((KeystoreLockedError, KeystoreCorruptError, WeakKdfParametersError)):
            load_keystore(path, PASSPHRASE)
        assert snapshot(path) == before


def test_real_kdf_tampered_byte_is_locked(tmp_path: Path) -> None:
    path = tmp_path / "keys.vault"
    save_keystore(path, CONTENTS, PASSPHRASE)
    tampered = bytearray(path.read_bytes())
    tampered[-1] ^= 0x01
    path.write_bytes(bytes(tampered))
    before = snapshot(path)
    with pytest.raises(KeystoreLockedError, match="altered"):
        load_keystore(path, PASSPHRASE)
    assert snapshot(path) == before


def test_read_error_is_corrupt_and_names_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "keys.vault"

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(keyfile, "open", denied, raising=False)
    with pytest.raises(KeystoreCorruptError, match="could not be read") as info:
        read_keystore_file(path)
    assert str(path) in str(info.value) and "Permission denied" in str(info.value)
