"""Dependencies point one way: web → signaling → sessions, voting, media,
recordings. Every import is read from the source, including those inside
functions and under TYPE_CHECKING, so an upward edge cannot hide."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYER = {"web": 3, "signaling": 2, "sessions": 1, "voting": 1, "media": 1, "recordings": 1}


def _imports(path: Path, package: str) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: inside its own package
                found.append((node.lineno, package))
            elif node.module:
                found.append((node.lineno, node.module))
    return found


def test_no_package_imports_a_layer_above_it():
    upward = []
    for package, rank in LAYER.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            for line, module in _imports(path, package):
                top = module.split(".")[0]
                if LAYER.get(top, 0) > rank:
                    upward.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not upward, "imports that point upward:\n" + "\n".join(upward)


def test_the_check_sees_an_upward_import(tmp_path):
    sample = tmp_path / "x.py"
    sample.write_text("def f():\n    from web.app import create_app\n", encoding="utf-8")
    assert _imports(sample, "voting") == [(2, "web.app")]
