"""The package's layering: every module imports only from its own layer or the layers below it, no import cycle
exists anywhere in src/ or benchmarks/, no module grows past 400 lines, and nothing inside the package uses an
old import path. Imports are read from the source (``ast``), lazy ones inside functions included."""

import ast
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "inertia"

# The layers, lowest first. Modules directly in the package are the foundation; a folder is a layer of its own.
# Layers that share a rank (the two engines) may not import each other.
LAYERS = {"optim": 1, "scratch": 2, "population": 2, "studies": 3, "sweeps": 4, "views": 5, "lab": 6, "cli": 7}
FACADE = {"inertia", "inertia.__main__", "inertia._moved"}  # the package's own entry points, above every layer
MAX_LINES = 400


def modules(root: Path, package: str) -> dict[str, Path]:
    """Every module under ``root`` by its dotted name (a package by its own name)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, found: dict[str, Path]) -> set[str]:
    """The modules of the tree that ``name`` imports, anywhere in its file (``importlib.import_module`` of a
    literal included). ``from pkg import x`` imports ``pkg.x`` when that is a module, else ``pkg`` when its
    ``__init__`` defines ``x``; inside the package anything else counts as ``pkg.x`` (so an old path, or a
    name only a package's lazy ``__getattr__`` provides, reads as a module that is not there)."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    roots = {k.split(".")[0] for k in found}
    strict = name.split(".")[0] == "inertia"
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                child = f"{base}.{alias.name}"
                defined = base in found and alias.name in defines(found[base])
                out.add(child if child in found or (strict and not defined) else base)
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            out.add(node.args[0].value)
    return {m for m in out if m.split(".")[0] in roots} - {name}


def defines(path: Path) -> set[str]:
    """The names a module binds at its top level (functions, classes, assignments, imports)."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:  # a name, or names unpacked from a tuple (A, B = 1, 2)
                elements = target.elts if isinstance(target, ast.Tuple) else [target]
                names |= {t.id for t in elements if isinstance(t, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def layer(name: str) -> tuple[int, str]:
    """(rank, layer name) of a module of the package: the foundation is rank 0, the facade above everything."""
    if name in FACADE:
        return 99, "package"
    parts = name.split(".")
    if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS):
        return LAYERS[parts[1]], parts[1]
    return 0, "foundation"


def graph(src: Path) -> dict[str, set[str]]:
    """Import edges between inertia's modules (under ``src``) and between the benchmarks' modules."""
    found = modules(src, "inertia") | modules(src.parents[1] / "benchmarks", "benchmarks")
    return {name: imports(name, path, found) for name, path in found.items()}


def problems(src: Path) -> list[str]:
    """Every import that breaks the layering, every import of a module that does not exist (an old path, say),
    and every cycle, as sentences."""
    edges = graph(src)
    out = []
    for name, targets in sorted(edges.items()):
        for target in sorted(targets):
            if target not in edges:
                out.append(f"{name} imports {target}, which is not a module of the tree")
            elif name.startswith("inertia.") or name == "inertia":
                (rank, here), (their_rank, there) = layer(name), layer(target)
                if their_rank > rank or (their_rank == rank and here != there):
                    out.append(f"{name} ({here}) imports {target} ({there}), which is not below it")
    out += [f"import cycle: {' -> '.join(cycle)}" for cycle in cycles(edges)]
    return out


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each strongly connected component of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in edges:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return [shortest_cycle(edges, component) for component in components]


def shortest_cycle(edges: dict[str, set[str]], component: list[str]) -> list[str]:
    """The shortest cycle from the component's first module back to it (breadth first, inside the component)."""
    start, members = component[0], set(component)
    parents, frontier = {start: None}, [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(edges[node] & members):
                if nxt == start:
                    path = [node]
                    while parents[path[-1]] is not None:
                        path.append(parents[path[-1]])
                    return [start, *reversed(path[:-1]), start] if len(path) > 1 else [start, node, start]
                if nxt not in parents:
                    parents[nxt] = node
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"no cycle through {start}")


def test_every_import_goes_downward_and_no_cycle_exists():
    assert problems(SOURCE) == []


def test_no_module_is_longer_than_the_limit():
    long = {str(p.relative_to(ROOT)): n for p in [*SOURCE.rglob("*.py"), *(ROOT / "benchmarks").glob("*.py")]
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


@pytest.fixture
def tree(tmp_path):
    """A copy of src/inertia and benchmarks/ to plant imports in."""
    shutil.copytree(SOURCE, tmp_path / "src" / "inertia", ignore=shutil.ignore_patterns("__pycache__", "_jit"))
    shutil.copytree(ROOT / "benchmarks", tmp_path / "benchmarks",
                    ignore=shutil.ignore_patterns("__pycache__", "results"))
    return tmp_path / "src" / "inertia"


def plant(path: Path, line: str) -> None:
    path.write_text(path.read_text() + f"\n\ndef _planted():\n    {line}\n")


@pytest.mark.parametrize(("module", "line", "expected"), [
    ("optim/rules.py", "from inertia.views import report", "inertia.optim.rules (optim) imports inertia.views.report"),
    ("data.py", "from inertia.population import train_population", "inertia.data (foundation) imports "
                                                                     "inertia.population"),
    ("scratch/network.py", "import inertia.population.layout", "inertia.scratch.network (scratch) imports "
                                                                "inertia.population.layout (population)"),
    ("studies/valley.py", "import importlib; importlib.import_module('inertia.cli')", "inertia.studies.valley "
                                                                                       "(studies) imports inertia.cli"),
    ("studies/nqm.py", "from inertia import rules", "inertia.studies.nqm imports inertia.rules, which is not a "
                                                    "module"),
])
def test_a_planted_upward_or_old_import_is_found(tree, module, line, expected):
    plant(tree / module, line)
    assert any(p.startswith(expected) for p in problems(tree)), problems(tree)


def test_a_planted_cycle_is_found(tree):
    plant(tree / "stats.py", "from inertia import plots")  # plots imports stats
    assert "import cycle: inertia.plots -> inertia.stats -> inertia.plots" in problems(tree)
    plant(tree.parents[1] / "benchmarks" / "common.py", "from benchmarks import architectures")
    assert any(p.startswith("import cycle: benchmarks.") for p in problems(tree))
