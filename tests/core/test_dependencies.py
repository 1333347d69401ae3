"""Dependencies point one way. Every module of viggle_web is parsed (imports inside functions
count too), and the import graph must have no cycle, between apps or between modules, and apps
may import only apps below them:

    core <- accounts <- usage <- assets <- renders <- gateway <- exports

``viggle`` (the API boundary) imports none of the apps and any app may use it; the simulator is
independent: it may use ``viggle`` and ``core``, and no app imports it. A lower app that has to
react to a higher one subscribes to an event or a registry instead (docs/architecture.md).
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "viggle_web"

# exports serves its API through the gateway's endpoint decorator and payloads, so it sits above.
LAYERS = [
    ["core"],
    ["accounts"],
    ["usage"],
    ["assets"],
    ["renders"],
    ["gateway"],
    ["exports"],
    ["batches"],
    ["notify"],
]
LEVEL = {app: n for n, tier in enumerate(LAYERS) for app in tier}
# Apps outside the layers, with what each may import.
INDEPENDENT = {"viggle": set(), "simulator": {"viggle", "core"}}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if "migrations" in parts:
            continue
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports(module: str, path: Path, known: set[str]) -> set[str]:
    """The viggle_web modules ``module`` imports anywhere in its body."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            names = [source] + [f"{source}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            # "a.b.c" imports a.b.c if it is a module, else the nearest package holding it.
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
    return targets


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {module: _imports(module, path, known) for module, path in modules.items()}


def _app(module: str) -> str | None:
    parts = module.split(".")
    if len(parts) < 2 or not (PACKAGE / parts[1]).is_dir():
        return None  # project level: settings, urls, asgi, ...
    return parts[1]


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _app_edges(graph: dict[str, set[str]]) -> dict[tuple[str, str], list[str]]:
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for module, targets in graph.items():
        for target in targets:
            source_app, target_app = _app(module), _app(target)
            if source_app and target_app and source_app != target_app:
                edges[(source_app, target_app)].append(f"{module} imports {target}")
    return edges


def test_the_graph_is_read_from_every_module_including_imports_inside_functions(tmp_path):
    graph = _graph()
    assert len(graph) > 50
    # viggle_web.usage.selectors imports the client inside viggle_balance(), not at the top.
    assert "viggle_web.viggle.client" in graph["viggle_web.usage.selectors"]
    # Relative imports and names imported from a module resolve to that module.
    source = tmp_path / "views.py"
    source.write_text(
        "from . import services\n"
        "from .models import CreditEntry\n"
        "def f():\n"
        "    from ..renders.models import RenderJob\n"
    )
    known = {
        "viggle_web.usage.services",
        "viggle_web.usage.models",
        "viggle_web.usage",
        "viggle_web.renders.models",
    }
    assert _imports("viggle_web.usage.views", source, known) == {
        "viggle_web.usage",
        "viggle_web.usage.services",
        "viggle_web.usage.models",
        "viggle_web.renders.models",
    }


def test_no_module_imports_itself_through_others():
    assert _cycles(_graph()) == []


def test_no_two_apps_import_each_other():
    graph = _graph()
    apps: dict[str, set[str]] = defaultdict(set)
    for source, target in _app_edges(graph):
        apps[source].add(target)
    assert _cycles(apps) == []


def test_every_app_has_a_place_in_the_order():
    apps = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert apps - set(LEVEL) - set(INDEPENDENT) == set(), "add the new app to LAYERS"


def test_apps_import_only_apps_below_them():
    wrong = []
    for (source, target), where in sorted(_app_edges(_graph()).items()):
        if source in INDEPENDENT:
            allowed = target in INDEPENDENT[source]
        elif target == "viggle":
            allowed = True
        elif target in INDEPENDENT:
            allowed = False
        else:
            allowed = LEVEL[target] < LEVEL[source]
        if not allowed:
            wrong.append(f"{source} -> {target}: {where[0]}")
    assert wrong == []


def test_the_checks_catch_a_cycle_and_an_upward_import():
    # The helpers themselves, on a made-up graph: a cycle through three modules is found, and
    # an import from usage up to renders is named.
    graph = {
        "viggle_web.usage.models": {"viggle_web.usage.rollup"},
        "viggle_web.usage.rollup": {"viggle_web.usage.services"},
        "viggle_web.usage.services": {"viggle_web.usage.models", "viggle_web.renders.models"},
        "viggle_web.renders.models": set(),
    }
    assert _cycles(graph) == [
        ["viggle_web.usage.models", "viggle_web.usage.rollup", "viggle_web.usage.services"]
    ]
    assert list(_app_edges(graph)) == [("usage", "renders")]


# --- rules stay in services, not in views, templates or models' save ---------------------------

TEMPLATES = PACKAGE.parent / "templates"


def test_views_leave_auditing_to_the_services():
    graph = _graph()
    auditing_views = sorted(
        module
        for module, targets in graph.items()
        if module.rsplit(".", 1)[-1].endswith("views") and "viggle_web.core.audit" in targets
    )
    assert auditing_views == []


def test_templates_do_not_decide_on_error_codes():
    deciding = [
        f"{path.relative_to(TEMPLATES)}:{number}"
        for path in TEMPLATES.rglob("*.html")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"{%[^%]*\berror_code\b[^%]*%}", line)
    ]
    assert deciding == []


def test_the_ledger_model_does_not_update_the_rollup():
    # The rollup is kept by the ledger's insert service (usage.services.ledger_insert).
    assert "viggle_web.usage.rollup" not in _graph()["viggle_web.usage.models"]
