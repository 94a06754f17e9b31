"""Fixtures for the webhook service: simulators and the service on ephemeral loopback ports."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import pytest
import requests

from plugin.config import Settings, load_settings
from simulators.freshdesk import FreshdeskSimulator
from simulators.zendesk import ZendeskSimulator, sign
from webhooks.service import EmbeddedService

ZD_SECRET = "test-signing-secret-0123456789"
FD_SECRET = "fd-shared-secret-abcdef"


@pytest.fixture
def zd():
    with ZendeskSimulator() as sim:
        yield sim


@pytest.fixture
def fd():
    with FreshdeskSimulator(custom_field_choices={"cf_ai_category": ["billing", "refund", "delivery", "order",
                                                                     "account", "feedback", "technical", "other"]}) as sim:
        yield sim


def make_settings(tmp_path: Path, zd: ZendeskSimulator | None = None, fd: FreshdeskSimulator | None = None,
                  **overrides) -> Settings:
    values = {"instance_dir": tmp_path / "instance", "classifier": "fallback",
              "zendesk_signing_secret": ZD_SECRET, "freshdesk_webhook_secret": FD_SECRET}
    if zd is not None:
        values.update(zendesk_base_url=zd.base_url, zendesk_email=zd.email, zendesk_api_token=zd.api_token)
    if fd is not None:
        values.update(freshdesk_base_url=fd.base_url, freshdesk_api_key=fd.api_key)
    values.update(overrides)
    return load_settings(values, env={})


@pytest.fixture
def service_factory(tmp_path):
    started: list[EmbeddedService] = []

    def start(zd=None, fd=None, *, consume: bool = True, **overrides) -> EmbeddedService:
        svc = EmbeddedService(make_settings(tmp_path, zd, fd, **overrides)).start(consume=consume)
        started.append(svc)
        return svc

    yield start
    for svc in started:
        svc.stop()


def now_ts() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def post_zendesk(url: str, body: dict | bytes, *, secret: str = ZD_SECRET, ts: str | None = None,
                 headers: dict | None = None) -> requests.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    ts = ts or now_ts()
    h = {"Content-Type": "application/json", "X-Zendesk-Webhook-Signature": sign(secret, ts, raw),
         "X-Zendesk-Webhook-Signature-Timestamp": ts}
    h.update(headers or {})
    return requests.post(url + "/webhooks/zendesk", data=raw, headers=h, timeout=10)


def post_freshdesk(url: str, body: dict, *, secret: str | None = FD_SECRET, header: str = "X-Triage-Secret",
                   auth: tuple[str, str] | None = None) -> requests.Response:
    h = {header: secret} if secret is not None and auth is None else {}
    return requests.post(url + "/webhooks/freshdesk", json=body, headers=h, auth=auth, timeout=10)


def wait_for(predicate: Callable[[], bool], timeout_s: float = 20.0, step_s: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step_s)
    return predicate()
