"""The layers of core/: no import cycle between its folders, counting imports inside functions too.

A node is a folder of core/ (``core/synth``) or a module at its top (``core/cli.py``); an edge is any import,
at module level or inside a function, from a file of one node to another. A cycle between folders means two
folders that each need the other: the layering the README describes is broken, whether or not Python happens
to import them in an order that works.
"""

import ast
from collections import defaultdict
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "core"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(CORE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _node(module: str) -> str | None:
    """core.synth.engine -> 'synth/', core.cli -> 'cli.py', core -> 'core'; None outside core."""
    parts = module.split(".")
    if parts[0] != "core":
        return None
    if len(parts) == 1:
        return "core"
    return f"{parts[1]}/" if (CORE / parts[1]).is_dir() else f"{parts[1]}.py"


def _imported(tree: ast.AST, module: str, is_package: bool) -> list[tuple[str, int]]:
    """(imported module, line) for every import in the file, at any depth."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: None if is_package else -1]
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # ``from core import checkpoints`` names a module: count the module, not the package
            names = [f"{target}.{a.name}" for a in node.names] if target == "core" else [target]
            out += [(name, node.lineno) for name in names]
    return out


def folder_graph() -> dict[str, dict[str, list[str]]]:
    """node -> imported node -> ['core/x/y.py:LINE', ...] (where the imports are)."""
    graph: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(CORE.rglob("*.py")):
        module = _module_name(path)
        source = _node(module)
        for target, line in _imported(ast.parse(path.read_text()), module, path.name == "__init__.py"):
            node = _node(target)
            if node is not None and node != source:
                graph[source][node].append(f"{path.relative_to(CORE.parent)}:{line}")
    return graph


def cycles(graph: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in list(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_between_core_folders():
    graph = folder_graph()
    found = cycles(graph)
    report = []
    for component in found:
        report.append(" <-> ".join(component))
        for a in component:
            for b, where in graph[a].items():
                if b in component:
                    report.append(f"  {a} -> {b}: {', '.join(where[:4])}{' ...' if len(where) > 4 else ''}")
    assert not found, "import cycles between folders of core/:\n" + "\n".join(report)


def test_the_graph_sees_function_level_imports(tmp_path):
    tree = ast.parse("def f():\n    from core.synth.engine import shared_renderer\n")
    assert _imported(tree, "core.render.x", False) == [("core.synth.engine", 2)]
    assert cycles({"a/": {"b/": []}, "b/": {"a/": []}}) == [["a/", "b/"]]
    assert cycles({"a/": {"b/": []}, "b/": {}}) == []
