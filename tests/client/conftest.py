"""Fixtures for the client kit: the real service on an ephemeral 127.0.0.1 port."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from plugin.apikeys import KeyStore
from plugin.config import load_settings
from webhooks import create_app


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve a WSGI app on a real socket (port 0) in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


@contextmanager
def serving_public_form(tmp_path: Path, **overrides: Any) -> Iterator[tuple[Flask, str]]:
    """An app whose form is open to the public for exactly the origin it is served on.

    The port is only known once the socket is bound, so the server starts with a placeholder and
    gets the app built for its own URL; yields ``(app, base_url)``.
    """
    holder: dict[str, Any] = {}
    server = make_server("127.0.0.1", 0, lambda environ, start: holder["app"](environ, start), threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    holder["app"] = app = make_app(tmp_path, form_public_origins=[url], **overrides)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, url
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


def make_app(tmp_path: Path, **overrides: Any) -> Flask:
    config = {"instance_dir": tmp_path / "instance", "classifier": "fallback", **overrides}
    return create_app(load_settings(config, env={}))


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return make_app(tmp_path)


@pytest.fixture
def base_url(app: Flask) -> Iterator[str]:
    with serving(app) as url:
        yield url


@pytest.fixture
def classify_key(app: Flask) -> str:
    _, token = KeyStore.for_instance(app.config["SETTINGS"].instance_dir).create("test-app")
    return token


# Real headless Chromium (Debian's package) for the browser tests; flags keep it off the network.
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run does this)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()
