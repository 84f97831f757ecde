"""The security documents cite tests by name; every cited test must exist.

A claim in docs/threat-model.md that names a test nobody wrote would be a claim we do not
make, so this keeps the document and the suite in step.
"""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CITATION = re.compile(r"`([a-z_/]+\.py)(?:::([A-Za-z0-9_]+))?")
SHORTHAND = re.compile(r"`…(?:::)?(_[a-z0-9_]+|test_[a-z0-9_]+)`")


def defined_tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}


def test_every_test_the_threat_model_cites_exists() -> None:
    text = (ROOT / "docs" / "threat-model.md").read_text()
    cited = CITATION.findall(text)
    assert len(cited) > 40  # the document cites the suite throughout
    missing = []
    for file, name in cited:
        if file.startswith(("vault/", "clients/")):
            assert (ROOT / file).is_file(), file  # a source file, not a test
            continue
        path = ROOT / "tests" / file
        if not path.is_file():
            missing.append(file)
        elif name and name not in defined_tests(path):
            missing.append(f"{file}::{name}")
    assert missing == []


def test_every_shorthand_citation_extends_a_real_test() -> None:
    """`…_after_expiry` after `…::test_relay_admits_joiner_past_max_uses` means a sibling test."""
    text = (ROOT / "docs" / "threat-model.md").read_text()
    names = set().union(*(defined_tests(p) for p in (ROOT / "tests").rglob("test_*.py")))
    for line in text.splitlines():
        for short in SHORTHAND.findall(line):
            if short.startswith("test_"):
                assert short in names, short
            else:
                assert any(name.endswith(short) for name in names), short


def test_readme_configuration_table_is_the_relays_settings() -> None:
    """README.md's configuration table is generated from vault/api/settings.py (names,
    defaults, descriptions): a setting added, renamed, re-defaulted or re-described in one
    and not the other fails here."""
    from vault.api.settings import configuration_table

    text = (ROOT / "README.md").read_text()
    begin = text.index("<!-- settings:begin")
    table = text[text.index("\n", begin) + 1:text.index("<!-- settings:end -->")].strip()
    expected = configuration_table()
    assert table == expected, f"paste this between the settings markers:\n{expected}"


def test_protocol_error_table_is_the_error_classes() -> None:
    """docs/protocol.md §10 lists every error code once, with its class, parent and home:
    a "client" row is the SDK's own (vault_client/errors.py), a row naming vault/api/errors.py
    the relay's own, any other the core's (vault/crypto/errors.py). The codes are the SDK's
    registry (the core's and its own, explicitly) and the relay's own."""
    from vault_client.errors import all_error_classes

    from vault.api.errors import RelayConfigError

    text = (ROOT / "docs" / "protocol.md").read_text()
    section = text[text.index("## 10. Error codes"):text.index("## 11. Limits")]
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in section.splitlines() if line.startswith("| `")]
    # The registry is the same whatever else is loaded: the relay's own error is not in it.
    assert RelayConfigError.code not in all_error_classes()
    classes = {**all_error_classes(), RelayConfigError.code: RelayConfigError}
    codes = [row[0].strip("`") for row in rows]
    assert sorted(codes) == sorted(classes), "the table and the classes name different codes"
    wrong = []
    for code, (_, name, parent, raised_by, _) in zip(codes, rows, strict=True):
        cls = classes[code]
        home = ("vault_client.errors" if raised_by == "client"
                else "vault.api.errors" if "vault/api/errors.py" in name
                else "vault.crypto.errors")
        base = cls.__bases__[0]
        if (name.split()[0] != cls.__name__ or cls.__module__ != home
                or parent != (base.code if base is not Exception else "—")):
            wrong.append(f"{code}: {name} in {home}, parent {parent} — is {cls.__module__}."
                         f"{cls.__name__}, parent {getattr(base, 'code', '—')}")
    assert wrong == [], "\n".join(wrong)
