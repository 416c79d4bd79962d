"""Count the import cycles of the `typicality` package, function-local imports included.

    python scripts/import_cycles.py            # counts, then every cycle
    python scripts/import_cycles.py --quiet    # counts only
    python scripts/import_cycles.py --root ../other-checkout

Builds the module graph from the source with `ast` (nothing is imported): an edge A -> B for
every `import`/`from ... import` in A that names B, at module level or inside a function;
`if TYPE_CHECKING:` imports are left out because they never run. `from pkg import name` is an
edge to `pkg.name` when that is a module, else to `pkg`. Prints the number of modules, edges and
function-local imports, the strongly connected components of more than one module, and the
number of simple cycles (each cycle listed unless --quiet). Standard library only.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "typicality"


def module_paths(root: Path) -> dict[str, Path]:
    paths = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        paths[".".join(parts)] = path
    return paths


def _resolve(dotted: str, known: dict) -> str:
    while dotted and dotted not in known:
        dotted = dotted.rpartition(".")[0]
    return dotted


def module_imports(name: str, path: Path, known: dict) -> list[tuple[str, int, bool]]:
    """(imported module, line, inside a function) for each in-package import of one module."""
    is_package = path.name == "__init__.py"
    found = []

    def visit(node: ast.AST, local: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import):
                found.extend((_resolve(alias.name, known), child.lineno, local) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    package = name.split(".") if is_package else name.split(".")[:-1]
                    package = package[: len(package) - (child.level - 1)]
                    base = ".".join(package + ([base] if base else []))
                for alias in child.names:
                    full = f"{base}.{alias.name}"
                    found.append((full if full in known else _resolve(base, known), child.lineno, local))
            visit(child, local or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return [(target, line, local) for target, line, local in found if target and target != name]


def import_graph(root: Path = ROOT) -> dict[str, list[tuple[str, int, bool]]]:
    known = module_paths(root)
    return {name: module_imports(name, path, known) for name, path in known.items()}


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm (iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(edges[successor]))))
                    advanced = True
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def simple_cycles(edges: dict[str, set[str]], component: list[str]) -> list[list[str]]:
    """Every simple cycle inside one component, each once (it starts at its smallest module)."""
    members = set(component)
    cycles = []
    for start in sorted(members):
        allowed = {node for node in members if node >= start}
        path = [start]

        def extend(node: str) -> None:
            for successor in sorted(edges[node] & allowed):
                if successor == start:
                    cycles.append(list(path))
                elif successor not in path:
                    path.append(successor)
                    extend(successor)
                    path.pop()

        extend(start)
    return cycles


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quiet", action="store_true", help="counts only")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to read (default: this one)")
    args = parser.parse_args()
    graph = import_graph(args.root)
    edges = {name: {target for target, _, _ in imports} for name, imports in graph.items()}
    components = [component for component in strongly_connected(edges) if len(component) > 1]
    cycles = [cycle for component in components for cycle in simple_cycles(edges, component)]
    local = sorted({(name, line) for name, imports in graph.items() for _, line, is_local in imports if is_local})
    print(f"modules={len(graph)} edges={sum(len(targets) for targets in edges.values())} function_local_imports={len(local)}")
    print(f"cyclic_components={len(components)} (sizes {sorted(len(c) for c in components)}) simple_cycles={len(cycles)}")
    if not args.quiet:
        for component in components:
            print("component:", ", ".join(component))
        for cycle in sorted(cycles, key=lambda c: (len(c), c)):
            print("  cycle:", " -> ".join([*cycle, cycle[0]]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
