"""The shape of the collection's Python, checked: every function short enough to read at once, none with a long
parameter list (a frozen settings object instead), and no import cycle between the collection's modules."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SOURCES = sorted(path for path in (ROOT / "plugins").rglob("*.py") if "_vendor_packaging" not in path.parts)
LONGEST = 79  # lines, signature and docstring included
MOST_PARAMETERS = 8  # self and cls not counted


def _functions():
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield "%s:%d %s" % (path.relative_to(ROOT), node.lineno, node.name), node


def _parameters(node):
    args = node.args
    names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
    names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
    return [name for name in names if name not in ("self", "cls")]


def test_no_function_is_longer_than_it_can_be_read_at_once():
    long = ["%s (%d lines)" % (where, node.end_lineno - node.lineno + 1) for where, node in _functions()
            if node.end_lineno - node.lineno + 1 > LONGEST]
    assert not long, long


def test_no_function_takes_more_than_eight_parameters():
    many = ["%s (%d)" % (where, len(_parameters(node))) for where, node in _functions()
            if len(_parameters(node)) > MOST_PARAMETERS]
    assert not many, many


def _module_name(path):
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _imports(path):
    """The collection's modules one module imports (at any depth of its code)."""
    prefix = "ansible_collections.airgap.pymigrate."
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(prefix):
            base = node.module[len(prefix):]
            for alias in node.names:
                candidate = "%s.%s" % (base, alias.name)
                found.add(candidate if (ROOT / (candidate.replace(".", "/") + ".py")).exists() else base)
        elif isinstance(node, ast.Import):
            found |= {alias.name[len(prefix):] for alias in node.names if alias.name.startswith(prefix)}
    return found


@pytest.mark.parametrize("floor", ["module_utils", "plugin_utils"])
def test_no_import_cycle(floor):
    graph = {_module_name(path): _imports(path) for path in SOURCES if floor in path.parts}
    state, cycles = {}, []

    def visit(name, trail):
        state[name] = "open"
        for other in sorted(graph.get(name, ())):
            if other not in graph:
                continue
            if state.get(other) == "open":
                cycles.append(" -> ".join(trail[trail.index(other):] + [other]))
            elif other not in state:
                visit(other, trail + [other])
        state[name] = "done"
    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, cycles
