"""The import structure: aurio is the ground every app stands on and imports
no app; the apps stand in layers (audit, invites, videos, uploads), each
importing only those below it, with one exception (the invite admin shows
its videos). Read from the source, so a new import that breaks the layering
fails here before it becomes a cycle."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ["aurio", "audit", "interviews", "invites", "videos", "uploads"]
# (importing file, imported app): the upward imports allowed.
ALLOWED_UPWARD = {("invites/admin.py", "videos")}


def app_imports() -> list[tuple[str, str]]:
    """(file, app) for every import of another app in the apps' own code."""
    found = []
    for app in LAYERS:
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if "/tests/" in relative or "/migrations/" in relative or "mongo_migrations" in relative:
                continue
            for node in ast.walk(ast.parse(path.read_text(), relative)):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top in LAYERS and top != app:
                        found.append((relative, top))
    return found


def module_imports() -> dict[str, set[str]]:
    """Each module of the apps' code, and the modules of the apps' code it imports
    (anywhere in it, deferred imports too)."""
    modules: dict[str, Path] = {}
    for app in LAYERS:
        for path in (ROOT / app).rglob("*.py"):
            relative = path.relative_to(ROOT).as_posix()
            if "/tests/" in relative or "migrations" in relative:
                continue
            modules[relative[:-3].replace("/", ".").removesuffix(".__init__")] = path
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            else:
                continue
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found: list[list[str]] = []
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = "open"
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                found.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_no_module_imports_itself_round_a_cycle() -> None:
    graph = module_imports()
    assert "aurio.heartbeat" in graph["aurio.tasks_redis"]  # the scan sees deferred imports
    assert cycles(graph) == []


def test_the_cycle_finder_finds_one() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def test_the_scan_sees_the_imports_it_judges() -> None:
    imports = app_imports()
    assert ("uploads/accept.py", "videos") in imports
    assert ("invites/admin.py", "videos") in imports


def test_aurio_imports_no_app() -> None:
    assert [(f, app) for f, app in app_imports() if f.startswith("aurio/")] == []


def test_apps_import_only_the_layers_below_them() -> None:
    upward = sorted(
        {
            (f, app)
            for f, app in app_imports()
            if LAYERS.index(app) > LAYERS.index(f.split("/")[0]) and (f, app) not in ALLOWED_UPWARD
        }
    )
    assert upward == []


def test_the_invite_rules_know_nothing_of_videos_or_uploads() -> None:
    core = {"invites/models.py", "invites/services.py", "invites/repository.py"}
    assert [(f, app) for f, app in app_imports() if f in core and app in ("videos", "uploads")] == []


@pytest.mark.parametrize(
    "module", ["invites.api", "videos.api", "uploads.api", "uploads.views", "aurio.urls"]
)
def test_each_api_module_imports_on_its_own(module: str) -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "aurio.settings", "SECRET_KEY": "layers"}
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); import {module}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
