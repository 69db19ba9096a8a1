"""One name per feature across the server, REST and the browser client.

A feature (documents, voting, inquiry, media, recordings) is found under the same name
everywhere: its Socket.IO handler module `signaling/handlers/<name>.py`, its
server package (`<name>/` or `sessions/<name>/`), its tests `tests/<name>/`,
its REST module `web/api/<name>.py` when it has one, and its browser module
`web/static/js/features/<name>.js`, whose exported `id` (the `data-feature`
of its panels and stage items) is that name too. Public names do not follow
from these: REST paths (`/api/votes/…`), event prefixes (`vote:`, `doc:`)
and the visible text stay what the contract says.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FEATURES = ("documents", "voting", "inquiry", "media", "recordings")
# Features with a Socket.IO namespace of their own rather than events on
# `/meeting`: the namespace's module `signaling/<name>.py`, `sessions/<name>/`,
# `tests/<name>/`, `web/api/<name>.py`; their pages are pages of their own,
# not modules of the meeting client.
NAMESPACE_FEATURES = ("sites",)
# Modules of the meeting client with no server side of their own: they only
# read what another feature holds (quality reads the media feature's peer
# connections and asks it to pause video).
CLIENT_ONLY_FEATURES = ("quality",)
# Features of the office's console with REST and a server package but no
# Socket.IO events or meeting-client module of their own: `sessions/<name>/`,
# `tests/<name>/`, `web/api/<name>.py`.
CONSOLE_FEATURES = ("meetings", "people", "accounts")
HANDLERS = ROOT / "signaling" / "handlers"
REST = ROOT / "web" / "api"
CLIENT = ROOT / "web" / "static" / "js" / "features"
# REST modules that belong to no one feature: the hub's own routes.
SHARED_REST = {"__init__", "core"}
CLIENT_ID = re.compile(r"export\s+default\s*\{\s*id:\s*[\"']([^\"']+)[\"']")


def rest_modules() -> list[str]:
    return sorted(p.stem for p in REST.glob("*.py") if p.stem not in SHARED_REST)


def client_modules() -> list[str]:
    return sorted(p.stem for p in CLIENT.glob("*.js"))


@pytest.mark.parametrize("name", FEATURES)
def test_the_feature_has_a_handler_and_a_client_module_of_its_name(name):
    assert (HANDLERS / f"{name}.py").is_file(), f"no signaling/handlers/{name}.py"
    assert (CLIENT / f"{name}.js").is_file(), f"no web/static/js/features/{name}.js (found {client_modules()})"
    assert (ROOT / name).is_dir() or (ROOT / "sessions" / name).is_dir(), f"no {name}/ nor sessions/{name}/"
    assert (ROOT / "tests" / name).is_dir(), f"no tests/{name}/"


def test_every_rest_module_is_named_after_a_feature():
    # The scan must see the feature REST modules, or it proves nothing.
    assert rest_modules(), "found no REST module in web/api/"
    known = FEATURES + NAMESPACE_FEATURES + CONSOLE_FEATURES
    stray = [f"web/api/{name}.py" for name in rest_modules() if name not in known]
    assert not stray, f"REST modules not named after a feature {known}: {stray}"


@pytest.mark.parametrize("name", NAMESPACE_FEATURES)
def test_a_namespace_feature_has_its_modules_of_its_name(name):
    assert (ROOT / "signaling" / f"{name}.py").is_file(), f"no signaling/{name}.py"
    assert (ROOT / "sessions" / name).is_dir(), f"no sessions/{name}/"
    assert (ROOT / "tests" / name).is_dir(), f"no tests/{name}/"
    assert not (HANDLERS / f"{name}.py").exists(), f"signaling/handlers/{name}.py would put its events on /meeting"


@pytest.mark.parametrize("name", CONSOLE_FEATURES)
def test_a_console_feature_has_its_modules_of_its_name(name):
    assert (ROOT / "sessions" / name).is_dir(), f"no sessions/{name}/"
    assert (ROOT / "tests" / name).is_dir(), f"no tests/{name}/"
    assert (REST / f"{name}.py").is_file(), f"no web/api/{name}.py"
    assert not (HANDLERS / f"{name}.py").exists(), f"signaling/handlers/{name}.py: list {name} in FEATURES"


def test_every_client_module_is_named_after_a_feature():
    known = FEATURES + CLIENT_ONLY_FEATURES
    stray = [f"web/static/js/features/{name}.js" for name in client_modules() if name not in known]
    assert not stray, f"client feature modules not named after a feature {known}: {stray}"


@pytest.mark.parametrize("name", CLIENT_ONLY_FEATURES)
def test_a_client_only_feature_has_no_server_side(name):
    assert not (HANDLERS / f"{name}.py").exists() and not (REST / f"{name}.py").exists(), \
        f"{name} has a server side: list it in FEATURES"


@pytest.mark.parametrize("name", FEATURES + CLIENT_ONLY_FEATURES)
def test_the_client_module_exports_its_file_name_as_id(name):
    path = CLIENT / f"{name}.js"
    if not path.is_file():
        pytest.fail(f"no web/static/js/features/{name}.js")
    found = CLIENT_ID.search(path.read_text(encoding="utf-8"))
    assert found, f"web/static/js/features/{name}.js: no `export default {{ id: … }}`"
    assert found.group(1) == name, f"web/static/js/features/{name}.js exports id {found.group(1)!r}, not {name!r}"
