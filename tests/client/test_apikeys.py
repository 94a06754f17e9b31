import sqlite3

import pytest

from plugin.apikeys import ApiKeyError, KeyStore, parse_token
from plugin.cli import main


def test_create_verify_revoke(tmp_path, database_url):
    store = KeyStore(database_url or tmp_path / "keys.sqlite3")
    key, token = store.create("ios-app")
    assert token.startswith(f"trk_{key.key_id}_")
    assert store.verify(token) == key
    assert store.verify(token + "x") is None
    assert store.verify(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    revoked = store.revoke(key.key_id)
    assert not revoked.active
    assert store.verify(token) is None
    with pytest.raises(ApiKeyError):
        store.revoke("000000000000")


def test_only_the_hash_is_stored(tmp_path):
    store = KeyStore(tmp_path / "keys.sqlite3")
    _, token = store.create("web")
    secret = token.split("_", 2)[2]
    dump = "\n".join(sqlite3.connect(tmp_path / "keys.sqlite3").iterdump())
    assert secret not in dump and token not in dump


def test_scopes_are_recorded_and_validated(tmp_path, database_url):
    store = KeyStore(database_url or tmp_path / "keys.sqlite3")
    key, token = store.create("ops", scope="admin")
    assert store.verify(token).scope == "admin"
    with pytest.raises(ApiKeyError):
        store.create("x", scope="everything")


@pytest.mark.parametrize("token", ["", "trk", "trk_zz_x", "trk_0123456789ab_", "abc_0123456789ab_x",
                                   "trk_0123456789az_x"])
def test_parse_rejects_malformed(token):
    assert parse_token(token) is None


def test_cli_create_list_revoke(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TRIAGE_INSTANCE_DIR", str(tmp_path))
    monkeypatch.delenv("TRIAGE_CONFIG", raising=False)
    assert main(["keys", "create", "android"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    key_id = parse_token(token)
    assert key_id and KeyStore.for_instance(tmp_path).verify(token).name == "android"
    assert main(["keys", "list"]) == 0
    listing = capsys.readouterr().out
    assert key_id in listing and "active" in listing and token not in listing
    assert main(["keys", "revoke", key_id]) == 0
    assert KeyStore.for_instance(tmp_path).verify(token) is None
    assert main(["keys", "revoke", "ffffffffffff"]) == 2
