"""Files that hold secrets, keys or ticket data are owner-only: instance folder 0700, files 0600,
whatever the process umask, and files left world-readable by older versions are tightened."""

from __future__ import annotations

import os
import stat

import pytest

from plugin import formtoken
from plugin.apikeys import KeyStore
from plugin.instance import update_instance_file
from webhooks import create_app
from webhooks.runtime import get_queue, get_store

from .conftest import make_settings, post_zendesk


@pytest.fixture
def loose_umask():
    old = os.umask(0o022)  # the usual default: new files 0644, folders 0755
    yield
    os.umask(old)


def _modes(folder):
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir() if p.is_file()}


def test_instance_folder_and_its_files_are_owner_only(tmp_path, loose_umask, service_factory):
    svc = service_factory(consume=False)
    instance = svc.settings.instance_dir
    assert post_zendesk(svc.base_url, {"ticket_id": "7", "subject": "refund"}).status_code == 202
    KeyStore.for_instance(instance).create("app")
    formtoken.load_secret(instance)
    update_instance_file(instance, {"zendesk_signing_secret": "s3cret"})
    with svc.app.app_context():
        get_queue()
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700
    modes = _modes(instance)
    for name in ("triage.sqlite3", "apikeys.sqlite3", "queue.sqlite3", "form_secret", "triage.toml"):
        assert name in modes, sorted(modes)
    assert {n: m for n, m in modes.items() if m != 0o600} == {}  # -wal/-shm included


def test_files_left_readable_by_older_versions_are_tightened(tmp_path, loose_umask):
    settings = make_settings(tmp_path)
    instance = settings.instance_dir
    instance.mkdir(mode=0o755)
    for name in ("triage.sqlite3", "apikeys.sqlite3"):
        (instance / name).touch(mode=0o644)
    app = create_app(settings)
    with app.app_context():
        get_store().counts_by_state()
    KeyStore.for_instance(instance).list()
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700
    assert _modes(instance)["triage.sqlite3"] == 0o600 and _modes(instance)["apikeys.sqlite3"] == 0o600
