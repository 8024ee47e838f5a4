"""The package's layering, read from the source (AST, no imports): fast, and it fails on the line
that breaks a rule.

* layers, encoders, losses and every family's generator/discriminator use `keras.ops` only
  (backend-agnostic, as keras-hub): no `tensorflow` import;
* a family folder (t2izoo/models/<paper>/) imports shared code only, never another family, and
  nothing outside a family imports it (the registry reaches families by name);
* the imports of t2izoo form no cycle, counting those inside functions (a cycle there works
  only by the accident of import order, and says two modules are one).
"""

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "t2izoo"
KERAS_ONLY = ("layers", "encoders", "losses")
KERAS_ONLY_FAMILY_FILES = ("generator.py", "discriminator.py")


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: pathlib.Path):
    """(line, imported module) of every import in `path`, inside functions too."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:  # `from t2izoo.models.x import recipe` imports a module too
                yield node.lineno, f"{node.module}.{alias.name}"


SOURCES = sorted(PACKAGE.rglob("*.py"))
FAMILIES = sorted(p.name for p in (PACKAGE / "models").iterdir() if (p / "config.py").exists())


def test_the_tree_has_the_expected_families():
    assert {"gan_int_cls", "stackgan", "stackgan_v2", "attngan"} <= set(FAMILIES)


def test_backend_agnostic_code_does_not_import_tensorflow():
    checked = [p for p in SOURCES if p.relative_to(PACKAGE).parts[0] in KERAS_ONLY]
    checked += [p for p in SOURCES if p.relative_to(PACKAGE).parts[0] == "models" and p.name in KERAS_ONLY_FAMILY_FILES]
    assert len(checked) > 15
    bad = [f"{p.relative_to(PACKAGE.parent)}:{line} imports {name}" for p in checked for line, name in imports(p)
           if name == "tensorflow" or name.startswith("tensorflow.")]
    assert not bad, "\n".join(bad)


def test_families_import_shared_code_only():
    bad = []
    for path in SOURCES:
        parts = path.relative_to(PACKAGE).parts
        own = parts[1] if parts[0] == "models" and len(parts) > 2 else None
        for line, name in imports(path):
            family = name.split(".")[2] if name.startswith("t2izoo.models.") else own
            if family != own:
                why = f"family {own} imports family {family}" if own else "shared code reaches families by the registry"
                bad.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {name} ({why})")
    assert not bad, "\n".join(bad)


def test_imports_form_no_cycle():
    modules = {module_name(p): p for p in SOURCES}
    graph = {}
    for name, path in modules.items():
        targets = set()
        for _, imported in imports(path):
            while imported and imported not in modules:  # `from pkg.mod import Name` -> pkg.mod
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                targets.add(imported)
        graph[name] = targets

    state, stack, cycles = {}, [], []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "\n".join(cycles)
