"""Privacy over the seeded PII corpus (``tests/core/pii_corpus.py``), end to end through the webhook path
and /v1/classify: no raw PII in any outbound LLM request, any log line (DEBUG), or the event store;
no secret in any log line, error body, /healthz or /metrics."""

from __future__ import annotations

import json
import logging
import random
import time

import pytest
import requests

import pii_corpus
from plugin.apikeys import KeyStore
from simulators.freshdesk import FreshdeskSimulator
from simulators.openai_server import OpenAISimulator
from simulators.zendesk import ZendeskSimulator

from reliability_support import (FD_SECRET, ZD_SECRET, post_freshdesk, post_zendesk, service_env, wait_for)

ZD_TOKEN = "zdtok-7Hq2LrX9vWm4Ks8Np3Jd6Tf1Yb5Gc0"
FD_KEY = "fdkey-Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0Lz"
OPENAI_KEY = "sk-proj-reliabilityTEST9f8e7d6c5b4a3210ZYXWVUTSRQ"
N_CASES = 56  # 8 per PII kind, seeded


def _cases():
    positives, _ = pii_corpus.corpus(seed=11, per_kind=40, n_negative=0)
    rng = random.Random(3)
    by_kind: dict[str, list] = {}
    for c in positives:
        by_kind.setdefault(c.kind, []).append(c)
    return [c for kind in pii_corpus.PII_KINDS for c in rng.sample(by_kind[kind], N_CASES // len(pii_corpus.PII_KINDS))]


def _leaks(text: str, values) -> list[str]:
    return [v for v in values if v in text]


@pytest.fixture
def sims():
    with ZendeskSimulator(api_token=ZD_TOKEN, rate_limit_per_minute=10**6) as zd, \
            FreshdeskSimulator(api_key=FD_KEY, rate_limit_per_minute=10**6) as fd, \
            OpenAISimulator(api_key=OPENAI_KEY) as llm:
        yield zd, fd, llm


def test_no_pii_leaves_and_no_pii_is_logged_in_process(tmp_path, sims, caplog, service_factory):
    zd, fd, llm = sims
    caplog.set_level(logging.DEBUG)
    cases = _cases()
    values = [c.value for c in cases]
    svc = service_factory(zd, fd, classifier="auto", llm_base_url=llm.base_url, llm_model="sim-keyword-1",
                          llm_api_key=OPENAI_KEY, zendesk_api_token=ZD_TOKEN, freshdesk_api_key=FD_KEY)
    _, key = KeyStore.for_instance(svc.settings.instance_dir).create("privacy")
    tickets = []
    for i, case in enumerate(cases):
        sim = zd if i % 2 == 0 else fd
        t = sim.create_ticket(f"Re: {case.text[:60]}", case.text, ["vip"])  # PII in subject and body
        if sim is zd:  # the webhook body carries the text too, as real triggers do
            resp = post_zendesk(svc.base_url, {"ticket_id": str(t["id"]), "subject": t["subject"],
                                               "description": case.text})
        else:
            resp = post_freshdesk(svc.base_url, {"freshdesk_webhook": {"ticket_id": t["id"], "ticket_subject": t["subject"],
                                                                       "ticket_description": case.text}})
        assert resp.status_code == 202
        tickets.append((sim, t["id"]))
    batch = [c.text for c in cases[:32]]
    resp = requests.post(svc.base_url + "/v1/classify?extended=1", json={"inputs": batch},
                         headers={"Authorization": f"Bearer {key}"}, timeout=60)
    assert resp.status_code == 200 and not _leaks(resp.text, values)  # answers carry no ticket text
    assert wait_for(lambda: all("triage_classified" in s.ticket(tid)["tags"] for s, tid in tickets), 120)
    assert len(llm.requests) >= len(cases) + len(batch)
    outbound = "\n".join(json.dumps(r["body"], ensure_ascii=False) for r in llm.requests)
    assert _leaks(outbound, values) == []
    assert "[EMAIL_1]" in outbound and "[CARD_1]" in outbound  # the redactor was really in the path
    logged = "\n".join(r.getMessage() + (str(r.exc_info) if r.exc_info else "") for r in caplog.records)
    assert caplog.records and _leaks(logged, values) == []
    assert _leaks(logged, [ZD_SECRET, FD_SECRET, ZD_TOKEN, FD_KEY, OPENAI_KEY, key]) == []
    svc.stop()
    stored = b"".join(p.read_bytes() for p in svc.settings.instance_dir.glob("*.sqlite3*"))
    assert _leaks(stored.decode("utf-8", "replace"), values) == []  # the store keeps no ticket text


def test_subprocess_debug_logs_and_error_bodies_hold_no_pii_or_secret(tmp_path, sims, processes):
    zd, fd, llm = sims
    cases = _cases()[::4]
    env = service_env(tmp_path, zd, fd, TRIAGE_CLASSIFIER="auto", TRIAGE_LLM_BASE_URL=llm.base_url,
                      TRIAGE_LLM_MODEL="sim-keyword-1", OPENAI_API_KEY=OPENAI_KEY,
                      TRIAGE_ZENDESK_API_TOKEN=ZD_TOKEN, TRIAGE_FRESHDESK_API_KEY=FD_KEY)
    svc = processes(tmp_path, env, verbose=True)  # triage -v serve: DEBUG logging on
    _, key = KeyStore.for_instance(tmp_path / "instance").create("privacy")
    bodies: list[str] = []
    tickets = []
    for i, case in enumerate(cases):
        t = zd.create_ticket("Help", case.text, [])
        assert post_zendesk(svc.url, {"ticket_id": str(t["id"]), "description": case.text}).status_code == 202
        tickets.append(t["id"])
    # refusals of every kind, each carrying a secret-looking or PII value in the request
    bodies.append(post_zendesk(svc.url, {"ticket_id": "1", "description": cases[0].text}, secret="wrong").text)
    bodies.append(post_freshdesk(svc.url, {"ticket_id": 1, "description": cases[1].text}, secret=FD_SECRET[:-1]).text)
    bodies.append(post_freshdesk(svc.url, {"ticket_id": "x" + cases[2].value}).text)
    bodies.append(requests.post(svc.url + "/v1/classify", json={"inputs": cases[3].text},
                                headers={"Authorization": f"Bearer {key[:-1]}X"}, timeout=30).text)
    bodies.append(requests.post(svc.url + "/v1/classify", data=b"{" + cases[4].text.encode(),
                                headers={"Authorization": f"Bearer {key}"}, timeout=30).text)
    bodies.append(requests.get(svc.url + "/healthz", timeout=30).text)
    bodies.append(requests.get(svc.url + "/metrics", timeout=30).text)
    llm.set_default("server_error")  # failures get logged too: still nothing personal
    t = zd.create_ticket("Help", cases[5].text, [])
    assert post_zendesk(svc.url, {"ticket_id": str(t["id"])}).status_code == 202
    tickets.append(t["id"])
    assert wait_for(lambda: all("triage_classified" in zd.ticket(tid)["tags"] for tid in tickets), 90)
    time.sleep(0.3)
    assert svc.terminate() == 0
    output = svc.output
    assert "DEBUG" in output  # the log really was at debug level
    assert len(llm.requests) >= len(cases) and not _leaks(json.dumps([r["body"] for r in llm.requests],
                                                                     ensure_ascii=False), [c.value for c in cases])
    secrets = [ZD_SECRET, FD_SECRET, ZD_TOKEN, FD_KEY, OPENAI_KEY, key]
    assert _leaks(output, [c.value for c in cases]) == []
    assert _leaks(output, secrets) == []
    for body in bodies:
        assert _leaks(body, secrets + [c.value for c in cases]) == [], body[:300]
