"""`triage demo`: simulators + service + install, real dataset tickets, tags shown. Ends by itself."""

from __future__ import annotations

import logging
import random
import tempfile
import time
from pathlib import Path


from plugin.config import load_settings
from plugin.datasets import load_labelled
from plugin.exceptions import ConfigError

from .freshdesk import FreshdeskSimulator
from .zendesk import ZendeskSimulator

DATASET = Path("bitext-customer-support") / "Bitext_Sample_Customer_Service_Testing_Dataset.csv"


def sample_tickets(data_dir: Path, n: int, seed: int = 7) -> list[tuple[str, str]]:
    """``n`` (text, dataset label) pairs from the Bitext test split."""
    path = Path(data_dir) / DATASET
    if not path.exists():
        raise ConfigError(f"demo dataset not found at {path} (use --data DIR)")
    items = load_labelled(path)
    rng = random.Random(seed)
    return [(it.text, it.label) for it in rng.sample(items, min(n, len(items)))]


def run_demo(data_dir: Path, n: int = 8, timeout_s: float = 60.0, out=print) -> int:
    from webhooks.install import install_freshdesk, install_zendesk
    from webhooks.service import EmbeddedService

    tickets = sample_tickets(data_dir, n)
    for name in ("huey", "huey.consumer", "webhooks", "webhooks.jobs", "webhooks.queue", "werkzeug"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="triage-demo-") as tmp, \
            ZendeskSimulator() as zd, FreshdeskSimulator() as fd:
        settings = load_settings({
            "instance_dir": Path(tmp) / "instance", "classifier": "fallback",
            "zendesk_base_url": zd.base_url, "zendesk_email": zd.email, "zendesk_api_token": zd.api_token,
            "freshdesk_base_url": fd.base_url, "freshdesk_api_key": fd.api_key}, env={})
        svc = EmbeddedService(settings)
        settings = settings.model_copy(update={"public_base_url": svc.base_url})
        install_zendesk(settings)
        install_freshdesk(settings)
        secrets = load_settings(config_file=settings.instance_dir / "triage.toml", env={})
        settings = settings.model_copy(update={"zendesk_signing_secret": secrets.zendesk_signing_secret,
                                               "freshdesk_webhook_secret": secrets.freshdesk_webhook_secret})
        svc.app.config["SETTINGS"] = settings
        svc.start()
        out(f"service {svc.base_url}  zendesk sim {zd.base_url}  freshdesk sim {fd.base_url}")
        created = []
        for i, (text, label) in enumerate(tickets):
            sim = zd if i % 2 == 0 else fd
            subject = text.split(".")[0][:60]
            created.append((sim, sim.create_ticket(subject, text)["id"], text, label))
        deadline = time.monotonic() + timeout_s
        guard = settings.guard_tag
        while time.monotonic() < deadline:
            if all(guard in sim.ticket(tid)["tags"] for sim, tid, _, _ in created):
                break
            time.sleep(0.1)
        svc.stop()
        done = 0
        out(f"{'helpdesk':<10} {'ticket':>6}  {'dataset label':<16} tags written  | text")
        for sim, tid, text, label in created:
            tags = sim.ticket(tid)["tags"]
            done += guard in tags
            out(f"{sim.vendor:<10} {tid:>6}  {label:<16} {' '.join(tags):<40} | {text[:50]}")
        out(f"{done}/{len(created)} tickets tagged")
        return 0 if done == len(created) else 1
