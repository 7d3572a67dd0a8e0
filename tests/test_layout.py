"""The packages' layering: every module imports on its own, and each imports only the layers below it.

Layers, bottom to top: questions/ (pure); bot's lower layers (config, masking, dates, storage,
the WeChat client, the quiz, the runtime); scheduler/ and exports/; bot's upper layers (the
conversation, the webhook, the app, the console, the commands).
"""
from __future__ import annotations

import ast
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "questions", "scheduler", "exports")
BOT_LOWER = {"bot.config", "bot.masking", "bot.dates", "bot.storage", "bot.wechat", "bot.quiz", "bot.runtime"}
BOT_UPPER = {"bot.conversation", "bot.webhook", "bot.app", "bot.console", "bot.commands", "bot.__main__"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = sorted(_module_name(p) for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def unit(module: str) -> str:
    """The part of the tree a module belongs to: a top-level package, or one of bot's sub-packages or modules."""
    parts = module.split(".")
    if parts[0] != "bot" or len(parts) == 1:
        return parts[0]
    return ".".join(parts[:2])


def imports_of(module: str) -> set[str]:
    """The project modules a module imports when it is loaded (imports inside functions are deferred)."""
    path = ROOT / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = ROOT / module.replace(".", "/") / "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()

    def visit(nodes):
        for node in nodes:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)
            elif isinstance(node, (ast.If, ast.Try)):
                visit(ast.iter_child_nodes(node))
    visit(tree.body)
    return {name for name in found if name in MODULES}


def _edges() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module in MODULES:
        for imported in imports_of(module):
            a, b = unit(module), unit(imported)
            if a != b:
                graph.setdefault(a, set()).add(b)
    return graph


def test_every_module_imports_on_its_own_in_a_fresh_interpreter():
    def load(module):
        result = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT, capture_output=True,
                                text=True, timeout=120)
        return module, result.returncode, result.stderr.strip().splitlines()[-1:] if result.returncode else []

    with ThreadPoolExecutor(max_workers=4) as pool:
        failed = [(m, err) for m, code, err in pool.map(load, [m for m in MODULES if m != "bot.__main__"]) if code]
    assert not failed


def test_questions_imports_nothing_of_the_others():
    assert {b for a, bs in _edges().items() if a == "questions" for b in bs} == set()


def test_bots_lower_layers_import_nothing_above_them():
    above = {"scheduler", "exports", *BOT_UPPER}
    wrong = {(a, b) for a, bs in _edges().items() if a in BOT_LOWER for b in bs if b in above}
    assert not wrong


def test_scheduler_and_exports_use_only_bots_lower_layers():
    wrong = {(a, b) for a, bs in _edges().items() if a in ("scheduler", "exports") for b in bs if b in BOT_UPPER}
    assert not wrong


def test_no_two_parts_import_each_other_and_there_is_no_cycle():
    graph = _edges()
    pairs = {tuple(sorted((a, b))) for a, bs in graph.items() for b in bs if a in graph.get(b, set())}
    assert not pairs
    visiting, done = set(), set()

    def walk(node, path):
        if node in done:
            return
        assert node not in visiting, " -> ".join([*path, node])
        visiting.add(node)
        for nxt in sorted(graph.get(node, ())):
            walk(nxt, [*path, node])
        visiting.discard(node)
        done.add(node)

    for node in sorted(graph):
        walk(node, [])


@pytest.mark.parametrize("module", ["bot.conversation.decide", "bot.quiz.rules", "bot.conversation.states"])
def test_the_decision_and_the_rules_hold_no_flask_sql_or_xml(module):
    source = (ROOT / (module.replace(".", "/") + ".py")).read_text(encoding="utf-8")
    imported = {name.split(".")[0] for name in _all_imports(source)}
    assert not imported & {"flask", "sqlalchemy", "psycopg", "sqlite3", "wechatpy", "xml"}
    assert "bot.storage" not in " ".join(_all_imports(source))


def _all_imports(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names
