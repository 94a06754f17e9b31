"""`triage install zendesk|freshdesk [--dry-run]`: create the webhook + trigger/automation."""

from __future__ import annotations

import argparse

from plugin.config import load_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("install", help="create the helpdesk webhook and trigger/automation rule")
    p.add_argument("vendor", choices=["zendesk", "freshdesk"])
    p.add_argument("--dry-run", action="store_true", help="print the API calls, send nothing")
    p.add_argument("--shadow", action="store_true",
                   help="shadow mode: classify and record, write nothing; compare with agents (docs/rollout.md)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from webhooks.install import install_freshdesk, install_zendesk

    from plugin.instance import update_instance_file

    settings = load_settings({"rollout_mode": "shadow"} if args.shadow else None)
    plan = (install_zendesk if args.vendor == "zendesk" else install_freshdesk)(settings, dry_run=args.dry_run)
    if args.shadow and not args.dry_run:  # one setting; `rollout_mode = "live"` there switches to live
        update_instance_file(settings.instance_dir, {"rollout_mode": "shadow"})
        print(f'rollout_mode = "shadow" stored in {settings.instance_dir / "triage.toml"}')
    print(("dry run, would send:" if args.dry_run else f"installed {args.vendor}:"))
    for line in plan.lines():
        print(line)
    return 0
