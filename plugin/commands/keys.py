"""`triage keys create|list|revoke`: manage API keys for the client endpoints."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone

from ..apikeys import SCOPES, KeyStore
from ..config import load_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("keys", help="manage API keys (stored hashed in the instance dir)")
    sub = parser.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    create = sub.add_parser("create", help="create a key and print its token once")
    create.add_argument("name", help="who or what uses the key, e.g. 'ios-app'")
    create.add_argument("--scope", choices=SCOPES, default="classify")
    create.set_defaults(func=_create)
    lst = sub.add_parser("list", help="list keys (never their tokens)")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=_list)
    revoke = sub.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("key_id")
    revoke.set_defaults(func=_revoke)


def _store() -> KeyStore:
    return KeyStore.for_settings(load_settings())


def _create(args: argparse.Namespace) -> int:
    key, token = _store().create(args.name, args.scope)
    print(f"created key {key.key_id} ({key.scope}) for {key.name!r}; the token is shown only once:")
    print(token)
    return 0


def _list(args: argparse.Namespace) -> int:
    keys = _store().list()
    if args.json:
        print(json.dumps([k.__dict__ | {"active": k.active} for k in keys], indent=2))
        return 0
    for k in keys:
        created = datetime.fromtimestamp(k.created_at, timezone.utc).strftime("%Y-%m-%d %H:%M")
        state = "active" if k.active else "revoked"
        print(f"{k.key_id}  {k.scope:<8}  {state:<7}  {created}  {k.name}")
    if not keys:
        print("no keys; create one with `triage keys create NAME`")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    key = _store().revoke(args.key_id)
    print(f"revoked {key.key_id} ({key.name})")
    return 0
