"""The layer rule of docs/architecture.md, read off the code: no import cycle, no import outward.

Every module of the ``evgrid`` package is parsed (``ast``, never imported) and all its
imports are read: at module level, inside functions, under ``if TYPE_CHECKING:``.
The generated bindings (evgrid/cim/generated/) and the Alembic migrations
(evgrid/adapters/store/migrations/) are not read; they can still be imported.

``X -> Y``: X may import Y. A layer may import itself and every layer below it (a higher
rank); two layers of one rank sit side by side and import neither way.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "evgrid"
NOT_READ = ("cim/generated", "adapters/store/migrations")

# module prefix -> (rank, layer). The longest prefix a module falls under gives its layer.
LAYERS: dict[str, tuple[int, str]] = {
    "evgrid.cli": (1, "command"),                  # top: the `evgrid` command
    "evgrid.__main__": (1, "command"),
    "evgrid.commands": (1, "command"),             # argument parsing; builds an app's settings
    "evgrid.sim.demo": (2, "demo"),                # the demo driver runs the processes
    "evgrid.apps": (3, "apps"),                    # one package per process
    "evgrid.config": (4, "config"),                # only apps and commands import them
    "evgrid.settings": (4, "config"),
    "evgrid.sim.devices": (5, "devices"),          # simulated devices, served by apps.ied
    "evgrid.adapters": (6, "adapters"),            # protocol packages: SOAP, ESB, IEC 61850, store
    "evgrid.messaging": (7, "messaging"),          # router, routes, outbox worker
    "evgrid.mappings": (8, "mappings"),            # CIM <-> domain: may import cim and core
    "evgrid.cim": (9, "cim"),                      # cim and core side by side:
    "evgrid.operations": (9, "core"),              # neither imports the other
    "evgrid.scheduler": (9, "core"),
    "evgrid.portal": (9, "core"),
    "evgrid.clock": (9, "core"),
    "evgrid.errors": (10, "errors"),               # bottom
}
# Package roots belong to no layer: anything may import them (``from evgrid import
# __version__``), so they import nothing but each other.
ROOTS = frozenset({"evgrid", "evgrid.sim", "evgrid.schemas"})

# Production never imports the simulator: only these import evgrid.sim.
SIM = "evgrid.sim"
SIM_IMPORTERS = ("evgrid.sim", "evgrid.apps.ied", "evgrid.commands")

# An outside library of an adapter -> the only packages (or modules) that import it.
LIBRARIES: dict[str, tuple[str, ...]] = {
    "zeep": ("evgrid.adapters.soap",),
    "waitress": ("evgrid.adapters.soap",),
    "pika": ("evgrid.adapters.esb",),
    "pyiec61850": ("evgrid.adapters.iec61850",),
    "sqlalchemy": ("evgrid.adapters.store",),
    "alembic": ("evgrid.adapters.store",),
    "apscheduler": ("evgrid.scheduler.jobs",),
}


# ------------------------------------------------------------------ reading the imports
@dataclass(frozen=True, slots=True)
class Import:
    """One imported name of one module: ``module -> target`` (both dotted; target absolute)."""

    module: str
    target: str
    line: int

    def __str__(self) -> str:
        return f"{self.module} -> {self.target}  (line {self.line})"


def module_name(path: Path, package: Path) -> str:
    """``evgrid/a/b.py`` -> ``evgrid.a.b``; ``evgrid/a/__init__.py`` -> ``evgrid.a``."""
    parts = [package.name, *path.relative_to(package).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_files(package: Path, skip: Iterable[str] = ()) -> dict[str, Path]:
    """Module name -> file, for every ``.py`` under ``package`` except the folders ``skip``."""
    skipped = [package / folder for folder in skip]
    return {module_name(path, package): path for path in sorted(package.rglob("*.py"))
            if not any(path.is_relative_to(folder) for folder in skipped)}


def imported_names(module: str, source: str, *, is_package: bool,
                   filename: str = "<source>") -> Iterator[tuple[str, str | None, int]]:
    """Every import of ``source`` as (absolute module, imported name or None, line), wherever it stands."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                yield base, None if alias.name == "*" else alias.name, node.lineno


def read_imports(package: Path, skip: Iterable[str] = NOT_READ) -> tuple[list[str], list[Import], list[Import]]:
    """The modules read, their imports of the package's modules, and their imports of other libraries.

    ``from a.b import c`` imports the module ``a.b.c`` if there is one, else ``a.b``
    (a name defined there, such as ``__version__``). Outside libraries are given by
    their top-level name.
    """
    every = module_files(package)  # skipped folders too: their modules can be imported
    read = module_files(package, skip)
    root = package.name
    internal: list[Import] = []
    external: list[Import] = []
    for module, path in read.items():
        names = imported_names(module, path.read_text(encoding="utf-8"), is_package=path.name == "__init__.py",
                               filename=str(path))
        for base, name, line in names:
            if base != root and not base.startswith(root + "."):
                external.append(Import(module, base.partition(".")[0], line))
                continue
            target = f"{base}.{name}" if name and f"{base}.{name}" in every else base
            internal.append(Import(module, target, line))
    # `from a import b, c` is one import of a per line, not two
    return sorted(read), list(dict.fromkeys(internal)), list(dict.fromkeys(external))


# ------------------------------------------------------------------ the rules, on any import table
def within(module: str, prefix: str) -> bool:
    """``module`` is ``prefix`` or inside it."""
    return module == prefix or module.startswith(prefix + ".")


def layer_of(module: str, layers: Mapping[str, tuple[int, str]] = LAYERS) -> tuple[int, str] | None:
    """(rank, layer) of the longest prefix of ``module`` in ``layers``; None: in no layer."""
    prefixes = [prefix for prefix in layers if within(module, prefix)]
    return layers[max(prefixes, key=len)] if prefixes else None


def unlayered(modules: Iterable[str], layers: Mapping[str, tuple[int, str]] = LAYERS,
              roots: frozenset[str] = ROOTS) -> list[str]:
    """Modules that are neither a package root nor in a layer: the table must say where they go."""
    return [module for module in modules if module not in roots and layer_of(module, layers) is None]


def outward(imports: Iterable[Import], layers: Mapping[str, tuple[int, str]] = LAYERS,
            roots: frozenset[str] = ROOTS) -> list[str]:
    """Each import against the layer rule, as ``module -> target  (layer -> layer, line n)``."""
    found = []
    for edge in imports:
        if edge.target in roots or edge.module == edge.target:
            continue
        if edge.module in roots:
            found.append(f"{edge}: a package root imports nothing but package roots")
            continue
        source, target = layer_of(edge.module, layers), layer_of(edge.target, layers)
        if source is None or target is None:
            continue  # unlayered() reports it
        if source[1] != target[1] and source[0] >= target[0]:
            how = "side by side" if source[0] == target[0] else "outward"
            found.append(f"{edge}: {source[1]} ({source[0]}) -> {target[1]} ({target[0]}), {how}")
    return found


def cycles(imports: Iterable[Import]) -> list[str]:
    """Each import cycle: one loop through it, then every import inside it (each lies on a loop)."""
    graph: dict[str, dict[str, Import]] = {}
    for edge in imports:
        if edge.module != edge.target:
            graph.setdefault(edge.module, {}).setdefault(edge.target, edge)
    found = []
    for group in _strongly_connected(graph):
        if len(group) < 2:
            continue
        members = set(group)
        start = min(group)
        loop = _path(graph, members, start, start)
        edges = sorted((edge for module in group for target, edge in graph.get(module, {}).items()
                        if target in members), key=lambda edge: (edge.module, edge.target))
        found.append("cycle " + " -> ".join(loop) + "\n" + "\n".join(f"    {edge}" for edge in edges))
    return sorted(found)


def _strongly_connected(graph: Mapping[str, Mapping[str, object]]) -> list[list[str]]:
    """Tarjan's strongly connected components, iteratively (no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    nodes = sorted(set(graph) | {target for targets in graph.values() for target in targets})
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, {}))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph.get(target, {})))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    groups.append(sorted(group))
    return groups


def _path(graph: Mapping[str, Mapping[str, object]], members: set[str], start: str, end: str) -> list[str]:
    """A shortest loop ``start -> ... -> end`` inside ``members`` (breadth first)."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph.get(node, {})):
                if target not in members or target in previous:
                    continue
                previous[target] = node
                if target == end:
                    path = [end]
                    while path[-1] != start or len(path) == 1:
                        path.append(previous[path[-1]])
                    return path[::-1]
                following.append(target)
        frontier = following
    raise AssertionError(f"no loop through {start}")


def imports_of_sim(imports: Iterable[Import], allowed: Iterable[str] = SIM_IMPORTERS) -> list[str]:
    """Imports of evgrid.sim by modules outside ``allowed``."""
    allowed = tuple(allowed)
    return [f"{edge}" for edge in imports
            if within(edge.target, SIM) and not any(within(edge.module, prefix) for prefix in allowed)]


def misplaced_libraries(imports: Iterable[Import], libraries: Mapping[str, tuple[str, ...]] = LIBRARIES) -> list[str]:
    """Imports of an adapter's outside library from anywhere but its adapter."""
    return [f"{edge}: only {', '.join(libraries[edge.target])} imports {edge.target}" for edge in imports
            if edge.target in libraries and not any(within(edge.module, home) for home in libraries[edge.target])]


def report(title: str, found: list[str]) -> str:
    return f"{len(found)} {title}:\n" + "\n".join(found)


# ------------------------------------------------------------------ the rules on evgrid
@dataclass(frozen=True)
class Package:
    """A package's modules, their imports of it, their imports of other libraries."""

    modules: list[str]
    imports: list[Import]
    libraries: list[Import]

    def __repr__(self) -> str:
        return f"<{len(self.modules)} modules, {len(self.imports)} imports, {len(self.libraries)} of libraries>"


@pytest.fixture(scope="module")
def evgrid() -> Package:
    return Package(*read_imports(PACKAGE))


def test_the_package_is_read(evgrid: Package) -> None:
    modules, imports = evgrid.modules, evgrid.imports
    assert {"evgrid", "evgrid.cli", "evgrid.errors", "evgrid.messaging.router"} <= set(modules)
    assert not [module for module in modules if module.startswith(("evgrid.cim.generated", "evgrid.adapters.store.migrations"))]
    assert any(edge.target == "evgrid.errors" for edge in imports)


def test_every_module_is_in_a_layer(evgrid: Package) -> None:
    found = unlayered(evgrid.modules)
    assert not found, report("modules in no layer (add them to LAYERS)", found)


def test_no_import_cycle(evgrid: Package) -> None:
    found = cycles(evgrid.imports)
    assert not found, report("import cycles (module -> imported module)", found)


def test_no_import_points_outward(evgrid: Package) -> None:
    found = outward(evgrid.imports)
    assert not found, report("imports against the layer rule (module -> imported module)", found)


def test_production_never_imports_the_simulator(evgrid: Package) -> None:
    found = imports_of_sim(evgrid.imports)
    assert not found, report(f"imports of evgrid.sim outside {', '.join(SIM_IMPORTERS)}", found)


def test_of_the_apps_only_the_ied_imports_the_simulator(evgrid: Package) -> None:
    apps = [edge for edge in evgrid.imports if within(edge.module, "evgrid.apps")]
    found = imports_of_sim(apps, allowed=("evgrid.apps.ied",))
    assert not found, report("imports of evgrid.sim by apps other than evgrid.apps.ied", found)


def test_each_outside_library_of_an_adapter_is_imported_by_its_adapter_only(
        evgrid: Package) -> None:
    found = misplaced_libraries(evgrid.libraries)
    assert not found, report("imports of an adapter's library outside it", found)


def test_every_library_of_the_table_is_imported_by_its_adapter(evgrid: Package) -> None:
    # A library imported under another name (pyiec61850 as `pyiec61850.pyiec61850`) must not leave a rule vacuous.
    homes = {edge.target for edge in evgrid.libraries
             if edge.target in LIBRARIES and any(within(edge.module, home) for home in LIBRARIES[edge.target])}
    assert homes == set(LIBRARIES), f"not imported by their adapter: {sorted(set(LIBRARIES) - homes)}"


# ------------------------------------------------------------------ the checker on made-up tables
def edges(*pairs: str) -> list[Import]:
    """``"a -> b"`` strings as imports."""
    return [Import(module.strip(), target.strip(), 1) for module, target in (pair.split("->") for pair in pairs)]


def test_a_cycle_is_reported_with_every_import_on_it() -> None:
    table = edges("evgrid.cim.codec -> evgrid.cim.envelope", "evgrid.cim.envelope -> evgrid.cim.replies",
                  "evgrid.cim.replies -> evgrid.cim.codec", "evgrid.cim.codec -> evgrid.errors",
                  "evgrid.operations.a -> evgrid.operations.b", "evgrid.operations.b -> evgrid.operations.a")
    found = cycles(table)
    assert len(found) == 2
    assert found[0].splitlines() == [
        "cycle evgrid.cim.codec -> evgrid.cim.envelope -> evgrid.cim.replies -> evgrid.cim.codec",
        "    evgrid.cim.codec -> evgrid.cim.envelope  (line 1)",
        "    evgrid.cim.envelope -> evgrid.cim.replies  (line 1)",
        "    evgrid.cim.replies -> evgrid.cim.codec  (line 1)"]
    assert found[1].startswith("cycle evgrid.operations.a -> evgrid.operations.b -> evgrid.operations.a\n")


def test_no_cycle_in_a_tree_nor_through_a_module_importing_itself() -> None:
    assert cycles(edges("evgrid.cli -> evgrid.commands.serve", "evgrid.commands.serve -> evgrid.errors",
                        "evgrid.cli -> evgrid.errors", "evgrid.apps.evos -> evgrid.apps.evos")) == []


@pytest.mark.parametrize(("pair", "allowed"), [
    ("evgrid.commands.demo -> evgrid.sim.demo.driver", True),
    ("evgrid.sim.demo.driver -> evgrid.apps.processes", True),
    ("evgrid.apps.evos.worker -> evgrid.config", True),
    ("evgrid.apps.ied -> evgrid.sim.devices.ied", True),
    ("evgrid.messaging.routes -> evgrid.mappings.ev_charging", True),
    ("evgrid.mappings.ev_charging -> evgrid.cim.generated.ev_charging", True),
    ("evgrid.mappings.ev_charging -> evgrid.operations.session", True),
    ("evgrid.operations.handlers -> evgrid.scheduler.plan", True),  # core is one layer
    ("evgrid.clock -> evgrid.errors", True),
    ("evgrid.errors -> evgrid", True),  # from evgrid import __version__
    ("evgrid.adapters.soap.server -> evgrid.schemas", True),
    ("evgrid.messaging.router -> evgrid.apps.evos.system", False),
    ("evgrid.messaging.outbox -> evgrid.adapters.store.outbox", False),
    ("evgrid.sim.devices.station -> evgrid.config", False),
    ("evgrid.settings -> evgrid.apps.logs", False),
    ("evgrid.cim.codec -> evgrid.operations.ports", False),  # side by side
    ("evgrid.scheduler.jobs -> evgrid.cim.envelope", False),  # side by side
    ("evgrid.errors -> evgrid.cim.envelope", False),
    ("evgrid -> evgrid.cli", False),  # a root imports no layer
])
def test_the_layer_rule_on_one_import(pair: str, allowed: bool) -> None:
    found = outward(edges(pair))
    assert (found == []) is allowed, found
    if not allowed:
        assert found[0].startswith(pair + "  (line 1): ")


def test_a_module_outside_every_layer_is_reported() -> None:
    assert unlayered(["evgrid", "evgrid.sim", "evgrid.errors", "evgrid.plugins.x", "evgrid.simulation"]) == [
        "evgrid.plugins.x", "evgrid.simulation"]


def test_the_simulator_rule_on_made_up_imports() -> None:
    table = edges("evgrid.apps.ied -> evgrid.sim.devices.ied", "evgrid.commands.demo -> evgrid.sim.demo.driver",
                  "evgrid.sim.demo.night -> evgrid.sim.devices.field", "evgrid.apps.portal.host -> evgrid.sim.devices",
                  "evgrid.adapters.iec61850.server -> evgrid.sim", "evgrid.apps.evos.worker -> evgrid.simulation")
    assert imports_of_sim(table) == ["evgrid.apps.portal.host -> evgrid.sim.devices  (line 1)",
                                     "evgrid.adapters.iec61850.server -> evgrid.sim  (line 1)"]


def test_the_library_rule_on_made_up_imports() -> None:
    table = edges("evgrid.adapters.store.database -> sqlalchemy", "evgrid.apps.evos.system -> sqlalchemy",
                  "evgrid.scheduler.jobs -> apscheduler", "evgrid.scheduler.planner -> apscheduler",
                  "evgrid.adapters.soap.client -> zeep", "evgrid.adapters.esb.binding -> zeep", "evgrid.cli -> lxml")
    assert misplaced_libraries(table) == [
        "evgrid.apps.evos.system -> sqlalchemy  (line 1): only evgrid.adapters.store imports sqlalchemy",
        "evgrid.scheduler.planner -> apscheduler  (line 1): only evgrid.scheduler.jobs imports apscheduler",
        "evgrid.adapters.esb.binding -> zeep  (line 1): only evgrid.adapters.soap imports zeep"]


def test_imports_are_read_wherever_they_stand(tmp_path: Path) -> None:
    package = tmp_path / "evgrid"
    files = {
        "__init__.py": '__version__ = "1"\n',
        "errors.py": "from evgrid import __version__\n",
        "cim/__init__.py": "",
        "cim/codec.py": ("from __future__ import annotations\nfrom typing import TYPE_CHECKING\n"
                         "if TYPE_CHECKING:\n    from evgrid.operations.ports import Port\n"
                         "from . import envelope\nfrom .envelope import Verb\n"),
        "cim/envelope.py": "import evgrid.cim.codec as codec\nVerb = 1\n",
        "cim/generated/__init__.py": "",
        "cim/generated/ev.py": "from evgrid.apps import anything\n",  # not read: no violation of its own
        "operations/__init__.py": "",
        "operations/ports.py": ("def late():\n    from ..cim.generated import ev\n    import pika.spec\n"
                                "    from sqlalchemy import text\n"),
        "messaging/router.py": "from evgrid.apps.evos import system\n",
        "apps/evos/system.py": "from evgrid.sim.devices import station\n",
        "sim/__init__.py": "",
        "sim/devices/station.py": "",
    }
    for name, text in files.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text, encoding="utf-8")

    modules, internal, external = read_imports(package)
    assert "evgrid.cim.generated.ev" not in modules and "evgrid.cim.codec" in modules
    assert sorted(str(edge) for edge in internal) == [
        "evgrid.apps.evos.system -> evgrid.sim.devices.station  (line 1)",
        "evgrid.cim.codec -> evgrid.cim.envelope  (line 5)",
        "evgrid.cim.codec -> evgrid.cim.envelope  (line 6)",
        "evgrid.cim.codec -> evgrid.operations.ports  (line 4)",
        "evgrid.cim.envelope -> evgrid.cim.codec  (line 1)",
        "evgrid.errors -> evgrid  (line 1)",
        "evgrid.messaging.router -> evgrid.apps.evos.system  (line 1)",
        "evgrid.operations.ports -> evgrid.cim.generated.ev  (line 2)"]
    assert sorted(str(edge) for edge in external) == [
        "evgrid.cim.codec -> __future__  (line 1)", "evgrid.cim.codec -> typing  (line 2)",
        "evgrid.operations.ports -> pika  (line 3)", "evgrid.operations.ports -> sqlalchemy  (line 4)"]
    # cim <-> core both ways, a cycle through TYPE_CHECKING and a function, messaging -> apps,
    # the simulator in production, sqlalchemy and pika outside their adapters.
    assert sorted(outward(internal)) == [
        "evgrid.cim.codec -> evgrid.operations.ports  (line 4): cim (9) -> core (9), side by side",
        "evgrid.messaging.router -> evgrid.apps.evos.system  (line 1): messaging (7) -> apps (3), outward",
        "evgrid.operations.ports -> evgrid.cim.generated.ev  (line 2): core (9) -> cim (9), side by side"]
    assert [found.splitlines()[0] for found in cycles(internal)] == [
        "cycle evgrid.cim.codec -> evgrid.cim.envelope -> evgrid.cim.codec"]
    assert imports_of_sim(internal) == ["evgrid.apps.evos.system -> evgrid.sim.devices.station  (line 1)"]
    assert len(misplaced_libraries(external)) == 2
