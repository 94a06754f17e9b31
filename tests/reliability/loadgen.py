"""A bounded load of signed webhooks (Zendesk + Freshdesk) against a service that may be killed.

Shared by ``test_crash.py`` (small) and ``bench/bench_crash.py`` (>= 10,000 events). Each event
creates a ticket in a simulator, then delivers the webhook; the ledger records which deliveries
were accepted (2xx), so lost/duplicate counts can be checked against the simulators' write counters.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import requests

TEXTS = ["I was charged twice for my order, please refund me", "My parcel has not arrived yet",
         "I forgot my password and cannot log in", "How do I cancel my order?",
         "The app crashes when I open my invoices", "I want to talk to a human agent"]
GUARD = "triage_classified"


@dataclass
class Ledger:
    sent: list[tuple[str, int]] = field(default_factory=list)  # (vendor, ticket id) delivery attempted
    accepted: list[tuple[str, int]] = field(default_factory=list)  # answered 2xx
    refused: int = 0  # answered non-2xx (or connection error: service down)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _zd_headers(secret: str, raw: bytes) -> dict[str, str]:
    ts = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    sig = base64.b64encode(hmac.new(secret.encode(), ts.encode() + raw, hashlib.sha256).digest()).decode()
    return {"Content-Type": "application/json", "X-Zendesk-Webhook-Signature": sig,
            "X-Zendesk-Webhook-Signature-Timestamp": ts}


def deliver(session: requests.Session, url: str, vendor: str, ticket_id: int, *, zd_secret: str,
            fd_secret: str) -> int | None:
    """One webhook for a ticket; returns the status, or None when the service did not answer."""
    if vendor == "zendesk":
        raw = json.dumps({"ticket_id": str(ticket_id), "subject": "Help", "tags": "vip"}).encode()
        headers = _zd_headers(zd_secret, raw)
        path = "/webhooks/zendesk"
    else:
        raw = json.dumps({"freshdesk_webhook": {"ticket_id": ticket_id, "ticket_subject": "Help",
                                                "triggered_event": "{ticket_action:created}"}}).encode()
        headers = {"Content-Type": "application/json", "X-Triage-Secret": fd_secret}
        path = "/webhooks/freshdesk"
    try:
        return session.post(url + path, data=raw, headers=headers, timeout=10).status_code
    except requests.RequestException:
        return None


def send_load(url: str, sims: dict, ledger: Ledger, stop: threading.Event, *, limit: int,
              zd_secret: str, fd_secret: str, deadline_s: float = 600.0) -> None:
    """Alternate vendors until ``stop``, ``limit`` events in the ledger, the deadline, or a dead service."""
    session = requests.Session()
    vendors = [v for v in ("zendesk", "freshdesk") if v in sims]
    end = time.monotonic() + deadline_s
    while not stop.is_set() and time.monotonic() < end:
        with ledger.lock:
            n = len(ledger.sent)
        if n >= limit:
            return
        vendor = vendors[n % len(vendors)]
        ticket = sims[vendor].create_ticket("Help", TEXTS[n % len(TEXTS)], ["vip"])
        with ledger.lock:
            ledger.sent.append((vendor, ticket["id"]))
        status = deliver(session, url, vendor, ticket["id"], zd_secret=zd_secret, fd_secret=fd_secret)
        with ledger.lock:
            if status is not None and 200 <= status < 300:
                ledger.accepted.append((vendor, ticket["id"]))
            else:
                ledger.refused += 1
        if status is None:
            return  # the service is down (killed); the caller restarts it
    session.close()


def tagged(sim, ticket_id: int) -> bool:
    return GUARD in sim.ticket(ticket_id)["tags"]


def verdict(sims: dict, ledger: Ledger) -> dict[str, int]:
    """sent / accepted / lost (accepted, never written) / duplicates (written more than once)."""
    lost = sum(1 for v, tid in ledger.accepted if not tagged(sims[v], tid))
    dup = sum(1 for v, tid in ledger.sent if sims[v].writes[str(tid)] > 1)
    unaccepted_written = sum(1 for v, tid in set(ledger.sent) - set(ledger.accepted) if sims[v].writes[str(tid)])
    return {"sent": len(ledger.sent), "accepted": len(ledger.accepted), "lost": lost, "duplicates": dup,
            "refused": ledger.refused, "written_without_2xx": unaccepted_written}
