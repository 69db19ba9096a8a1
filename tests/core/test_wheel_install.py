"""The package installs whole: a wheel built from a clean checkout, installed
into a fresh virtualenv, serves `plenary serve --demo` to a browser that connects.

`pip install` and `plenary serve` is how most people first try Plenary, so
this is the path they take: no scripts/bootstrap, no npm, no repository on
sys.path or in the working directory. The wheel is built from `git archive`
of a commit (HEAD unless PLENARY_WHEEL_REF names another), so untracked or
uncommitted files in the work tree cannot make it pass; commit first.

Speed: the build runs with pip's build isolation (setuptools and cffi from
PyPI or pip's cache, as a user's `pip install .` does). The fresh venv has
no pip and no dependencies of its own: a .pth file lends it the project
venv's site-packages (only appended to sys.path, so the project's editable
install there is not activated), and the project's pip installs the wheel
into it with `--python`.
"""
from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import sysconfig
import tarfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import expect

from tests.helpers import free_port, stop_process

REPO = Path(__file__).resolve().parents[2]
VENDOR = "web/static/vendor"
BUNDLE = f"{VENDOR}/socket.io.min.js"
LICENCE = f"{VENDOR}/socket.io-client.LICENSE"
PACKAGES = ("signaling", "media", "sessions", "voting", "recordings", "web")


def clean_env() -> dict[str, str]:
    """The environment minus anything that could point a child at the repository."""
    drop = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("PLENARY_")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    return env


def run(args: list, cwd: Path, timeout: float = 240) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(map(str, args))} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@dataclass
class Installed:
    ref: str
    tracked: list[str]
    wheel: Path
    venv: Path
    python: Path
    plenary: Path
    site_packages: Path
    lent: set[str]
    build_seconds: float


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    """The wheel of a clean checkout, installed into a fresh venv (built once per module)."""
    root = tmp_path_factory.mktemp("wheel")
    ref = os.environ.get("PLENARY_WHEEL_REF", "HEAD")
    source = root / "src"
    source.mkdir()
    archive = subprocess.run(["git", "archive", "--format=tar", ref], cwd=REPO, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(source, filter="data")
    tracked = run(["git", "ls-tree", "-r", "--name-only", ref], cwd=REPO).splitlines()

    started = time.monotonic()
    dist = root / "dist"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", dist, source], cwd=root)
    (wheel,) = dist.glob("plenary-*.whl")

    venv = root / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=root)
    python = venv / "bin" / "python"
    own = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=root).strip())
    lent = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (own / "plenary-test-deps.pth").write_text("".join(f"{p}\n" for p in sorted(lent)), encoding="utf-8")
    run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "--quiet", wheel], cwd=root)
    return Installed(ref, tracked, wheel, venv, python, venv / "bin" / "plenary", own, lent, time.monotonic() - started)


def test_the_vendored_client_is_the_version_the_lock_pins():
    """web/static/vendor/ is committed; its bundle must be the release
    web/package-lock.json pins (scripts/vendor-js copies it from there)."""
    lock = json.loads((REPO / "web/package-lock.json").read_text(encoding="utf-8"))
    pinned = lock["packages"]["node_modules/socket.io-client"]["version"]
    assert json.loads((REPO / "web/package.json").read_text(encoding="utf-8"))["dependencies"]["socket.io-client"] == pinned
    head = (REPO / BUNDLE).read_text(encoding="utf-8")[:200]
    assert f"Socket.IO v{pinned}\n" in head, head
    assert "MIT License" in (REPO / LICENCE).read_text(encoding="utf-8")
    assert pinned in (REPO / VENDOR / "README").read_text(encoding="utf-8")


def test_the_wheel_holds_everything_serve_needs(installed: Installed):
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    # What the running hub reads from its package: every tracked module, the
    # page and its vendored client with the licence, the migrations.
    needed = [
        path for path in installed.tracked
        if path.split("/", 1)[0] in PACKAGES and (path.endswith(".py") or path.startswith("web/static/"))
    ]
    assert BUNDLE in needed and LICENCE in needed, "the vendored client is not committed"
    missing = [path for path in needed if path not in names]
    assert missing == [], f"tracked files missing from {installed.wheel.name}: {missing}"
    assert any(n.startswith("sessions/migrations/versions/") for n in names)
    # The C fan-out is compiled into the wheel, not left to the first run.
    assert any(n.startswith("media/_fanout") and n.endswith(".so") for n in names), sorted(names)
    # Nothing from a work tree: no tests, no build tree, no npm.
    assert not [n for n in names if n.startswith(("tests/", "bench/", "node_modules/")) or "/node_modules/" in n]

    # The installed modules are the venv's, and the compiled fan-out loads.
    where = json.loads(run([
        installed.python, "-c",
        "import json, sys, web.app, media._fanout; "
        "print(json.dumps({'static': str(web.app.STATIC), 'fanout': media._fanout.__file__, 'path': sys.path, "
        "'finders': [repr(f) for f in sys.meta_path]}))",
    ], cwd=installed.venv))
    # Nothing of the repository is importable but the dependencies lent from
    # its venv; that venv's editable install (a meta-path finder onto the repo) stays inactive.
    from_repo = [p for p in where["path"] if p and p not in installed.lent and Path(p).resolve().is_relative_to(REPO)]
    assert from_repo == [], where["path"]
    assert not [f for f in where["finders"] if "editable" in f.lower()], where["finders"]
    assert Path(where["static"]).is_relative_to(installed.site_packages), where
    assert Path(where["fanout"]).is_relative_to(installed.site_packages), where


class InstalledServe:
    """`plenary serve --demo` from the installed console script, outside the repository."""

    def __init__(self, installed: Installed, workdir: Path) -> None:
        self.installed = installed
        self.workdir = workdir
        self.data_dir = workdir / "plenary-data"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, timeout: float = 60) -> None:
        self.log = open(self.workdir / "serve.log", "wb")
        self.proc = await asyncio.create_subprocess_exec(
            str(self.installed.plenary), "serve", "--demo", "--port", str(self.port), "--data-dir", str(self.data_dir),
            cwd=self.workdir, env=clean_env(), stdout=self.log, stderr=self.log,
        )
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as http:
            while True:
                assert self.proc.returncode is None, f"plenary serve exited: {self.output()}"
                try:
                    async with http.get(f"{self.url}/healthz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                assert time.monotonic() < deadline, f"plenary serve did not come up: {self.output()}"
                await asyncio.sleep(0.1)

    def output(self) -> str:
        self.log.flush()
        return (self.workdir / "serve.log").read_text(encoding="utf-8", errors="replace")[-3000:]

    async def stop(self) -> None:
        await stop_process(self.proc)
        if getattr(self, "log", None):
            self.log.close()


@pytest.mark.browser
@pytest.mark.timeout(300)
async def test_installed_wheel_serves_a_page_that_connects(installed: Installed, browser, tmp_path: Path):
    assert not tmp_path.is_relative_to(REPO)
    serve = InstalledServe(installed, tmp_path)
    await serve.start()
    try:
        # The demo writes every participant's link into the data dir.
        rows = [line.split("\t") for line in (serve.data_dir / "demo-links.tsv").read_text(encoding="utf-8").splitlines()]
        _role, name, _site, url = next(row for row in rows if row[0] == "deputy")
        assert url.startswith(serve.url + "/join?token=")

        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        uncaught: list[str] = []
        static_failures: list[str] = []
        elsewhere: list[str] = []
        page.on("pageerror", lambda exc: uncaught.append(str(exc)))
        # Everything the page needs comes from the hub: no CDN, no other host.
        page.on("request", lambda req: None if req.url.startswith((serve.url + "/", "data:", "blob:")) else elsewhere.append(req.url))
        page.on("requestfailed", lambda req: static_failures.append(f"{req.url}: {req.failure}"))
        page.on("response", lambda r: static_failures.append(f"{r.url}: {r.status}") if r.status >= 400 else None)
        await page.goto(url, wait_until="domcontentloaded")

        # Connected over Socket.IO: the live status, who we are, the whole roster.
        await expect(page.locator("#conn")).to_have_attribute("data-status", "online")
        await expect(page.locator("#me-name")).to_have_text(name)
        await expect(page.locator("#roster-summary")).to_have_text(f"1/{len(rows)} 在线")
        await expect(page.locator("#refusal")).to_be_hidden()
        assert await page.evaluate("typeof window.io") == "function"
        assert static_failures == [] and uncaught == [] and elsewhere == [], (static_failures, uncaught, elsewhere)
        await page.close()

        # The bundle the hub serves is the installed package's file.
        installed_bundle = (installed.site_packages / BUNDLE).read_bytes()
        assert installed_bundle == zipfile.ZipFile(installed.wheel).read(BUNDLE)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{serve.url}/static/vendor/socket.io.min.js") as resp:
                assert resp.status == 200
                assert await resp.read() == installed_bundle
    finally:
        await serve.stop()
    print(f"wheel {installed.wheel.name}: built and installed in {installed.build_seconds:.1f} s")
