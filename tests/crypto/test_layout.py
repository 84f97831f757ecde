"""The core's layout: one direction of imports, no I/O, one home per name, one map.

Read from the source with ast (nothing here imports the modules it checks, except the last
test), so a cycle or a stray import is named plainly rather than failing somewhere else.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CORE = REPO / "vault" / "crypto"
# Rooms the core must never reach: the relay, the SDK and the I/O libraries they use.
FORBIDDEN = ("flask", "sqlalchemy", "httpx", "vault.api", "vault_client")


@cache
def core_modules() -> dict[str, ast.Module]:
    return {path.stem: ast.parse(path.read_text(encoding="utf-8"))
            for path in sorted(CORE.glob("*.py")) if path.stem != "__init__"}


def imported_names(node: ast.AST) -> list[str]:
    """The dotted modules one import statement names (``from a import b`` names ``a.b`` too,
    which is how ``from vault.crypto import labels`` names a module)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        return [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    return []


def core_imports(node: ast.AST) -> set[str]:
    """The vault.crypto modules one import statement names."""
    found = set()
    for name in imported_names(node):
        parts = name.split(".")
        if parts[:2] == ["vault", "crypto"] and len(parts) > 2 and parts[2] in core_modules():
            found.add(parts[2])
    return found


def import_graph() -> dict[str, set[str]]:
    """Every import of a core module by a core module, TYPE_CHECKING blocks included."""
    return {module: set().union(*(core_imports(node) for node in ast.walk(tree)))
            for module, tree in core_modules().items()}


def test_core_imports_have_no_cycle() -> None:
    try:
        TopologicalSorter(import_graph()).prepare()
    except CycleError as exc:
        pytest.fail(f"vault.crypto has an import cycle: {' -> '.join(exc.args[1])}")


def test_no_core_import_inside_a_function() -> None:
    found = []
    for module, tree in core_modules().items():
        for function in ast.walk(tree):
            if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                found += [f"{module}.{function.name} imports {', '.join(sorted(names))}"
                          for node in ast.walk(function) if (names := core_imports(node))]
    assert not found, "imports inside functions (dodging a cycle?): " + "; ".join(found)


def test_core_stays_sans_io_and_out_of_the_other_rooms() -> None:
    found = [f"{module} imports {name}"
             for module, tree in core_modules().items()
             for node in ast.walk(tree)
             for name in imported_names(node)
             if any(name == room or name.startswith(room + ".") for room in FORBIDDEN)]
    assert not found, "; ".join(found)


def defined_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(target.id for target in node.targets if isinstance(target, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def test_every_public_name_has_one_home() -> None:
    homes: dict[str, list[str]] = {}
    for module, tree in core_modules().items():
        for name in defined_names(tree) - {"__all__"}:
            if not name.startswith("_"):
                homes.setdefault(name, []).append(module)
    several = {name: where for name, where in homes.items() if len(where) > 1}
    assert not several, f"defined in several modules: {several}"


def test_all_lists_only_what_the_module_defines() -> None:
    """No re-exports: a name in ``__all__`` is defined where it is listed."""
    found = []
    for module, tree in core_modules().items():
        for node in tree.body:
            if (isinstance(node, ast.Assign) and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name) and node.targets[0].id == "__all__"
                    and isinstance(node.value, ast.List | ast.Tuple)):
                listed = {elt.value for elt in node.value.elts if isinstance(elt, ast.Constant)}
                found += [f"{module}.{name}" for name in sorted(listed - defined_names(tree))]
    assert not found, "re-exported: " + ", ".join(found)


def python_files() -> list[Path]:
    roots = [REPO / "vault", REPO / "clients", REPO / "tests", REPO / "benchmarks"]
    return sorted(path for root in roots for path in root.rglob("*.py"))


def test_every_import_of_a_core_name_names_its_home() -> None:
    """Across the repository, ``from vault.crypto.X import Y`` only where X defines Y."""
    defined = {module: defined_names(tree) for module, tree in core_modules().items()}
    found = []
    for path in python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.ImportFrom) and node.module and node.level == 0):
                continue
            parts = node.module.split(".")
            if parts[:2] != ["vault", "crypto"] or len(parts) != 3 or parts[2] not in defined:
                continue
            found += [f"{path.relative_to(REPO)}:{node.lineno}: {alias.name} from {parts[2]}"
                      for alias in node.names if alias.name not in defined[parts[2]]]
    assert not found, "imported from a module that is not its home: " + "; ".join(found)


def test_the_package_map_lists_every_module_in_dependency_order() -> None:
    """vault/crypto/__init__.py's docstring is the core's map: true and in order."""
    init = ast.parse((CORE / "__init__.py").read_text(encoding="utf-8"))
    assert all(isinstance(node, ast.Expr | ast.ImportFrom) for node in init.body), (
        "vault.crypto's __init__ holds its docstring only, so importing a submodule stays cheap"
    )
    listed = re.findall(r"^``(\w+)``\s", ast.get_docstring(init) or "", flags=re.MULTILINE)
    assert sorted(listed) == sorted(core_modules()), "the map and the modules differ"
    graph = import_graph()
    for position, module in enumerate(listed):
        later = set(listed[position + 1:]) & graph[module]
        assert not later, f"{module} imports {sorted(later)}, listed after it in the map"


def test_limits_agree_with_the_formats_they_bound() -> None:
    from vault.crypto import limits
    from vault.crypto.epochs import EPOCH_GRANT_SIZE
    from vault.crypto.invites import JoinRequest
    from vault.crypto.posts import PostEnvelope
    from vault.crypto.primitives import AEAD_TAG_SIZE

    assert limits.MAX_GRANT_SIZE == EPOCH_GRANT_SIZE
    assert limits.MAX_JOIN_REQUEST_SIZE == JoinRequest.ENCODED_SIZE
    largest = PostEnvelope(bytes(32), 2**64 - 1, bytes(16), 2**64 - 1, bytes(32), 2**64 - 1,
                           bytes(24), bytes(limits.MAX_BUCKET + AEAD_TAG_SIZE))
    assert len(PostEnvelope.decode(largest.encode()).encode()) == limits.MAX_ENVELOPE_SIZE


# The core's own dependencies (pyproject's [project] dependencies), by import name.
CORE_LIBRARIES = {"nacl", "argon2", "immutables", "mnemonic"}


def test_core_imports_only_the_standard_library_and_its_declared_libraries() -> None:
    """`pip install .` installs only what the core imports (issue 10, packaging)."""
    import sys

    found = {name.split(".")[0] for tree in core_modules().values()
             for node in ast.walk(tree) for name in imported_names(node)}
    outside = found - set(sys.stdlib_module_names) - {"vault", "__future__"}
    assert outside == CORE_LIBRARIES


def test_one_aead_binding_in_the_whole_code() -> None:
    """XChaCha20-Poly1305 is bound once, in vault.crypto.primitives: no other module of the
    core, the relay or the SDK reaches libsodium's AEAD (or PyNaCl's wrappers of it)."""
    aead = re.compile(r"crypto_aead_\w+|nacl\.secret|\bSecretBox\b|\bAead\b")
    roots = [REPO / "vault", REPO / "clients" / "python" / "vault_client"]
    found = [str(path.relative_to(REPO)) for root in roots for path in sorted(root.rglob("*.py"))
             if path != CORE / "primitives.py" and aead.search(path.read_text(encoding="utf-8"))]
    assert found == []
    assert aead.search((CORE / "primitives.py").read_text(encoding="utf-8"))
