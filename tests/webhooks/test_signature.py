"""Zendesk signature: the contract's vectors, and every rejection through a real socket."""

from __future__ import annotations

import json

import pytest
import requests

from webhooks.signature import ZENDESK_TEST_SECRET, signature_matches, zendesk_signature

from .conftest import ZD_SECRET, now_ts, post_zendesk

TS = "2026-01-15T09:30:00Z"
BODY = b'{"ticket_id":"35436","subject":"Refund for order #1234","tags":"vip billing"}'


def test_contract_vector():
    assert zendesk_signature(ZENDESK_TEST_SECRET, TS, BODY) == "a1R/0IZgvg1HDI8ESTy8CfdzJwesPoc7UhUKekkqDBA="
    assert signature_matches(ZENDESK_TEST_SECRET, TS, BODY, "a1R/0IZgvg1HDI8ESTy8CfdzJwesPoc7UhUKekkqDBA=")


def test_old_doc_vector_is_body_then_timestamp_and_rejected():
    secret, body, ts = "HRkRd4BeOAoUkfZr-mhauJT64rvBASlJRoIyPsd3zeA=", b'{"say": "hello"}', "2021-07-25T10:00:00Z"
    assert zendesk_signature(secret, ts, body) == "Rry/4TtIdFyawtXXp8QdI6tlAUUQ/5kL1OTp5qo/ZIk="
    assert not signature_matches(secret, ts, body, "tRDSF7URY8BLCDlaBcQ7FHu051Zk+aAB0NKMP53teMw=")


@pytest.mark.parametrize("wrong", [
    "NMrJwdITHYwmicf98oznfJ/EYZKFSksPDIwP7m0CUGE=",  # body+timestamp order
    "6b547fd08660be0d470c8f04493cbc09f7732707ac3e873b52150a7a492a0c10",  # hex digest
    "712g5CNyCgSayyyPlKvHbNju6PMiDp21V0ukD0ZnqiY=",  # key base64-decoded first
    "Y75Y3ttIxNKRuKKmgUPNAOHumFSTi5S74g0r8CvBhHs=",  # body re-serialised
])
def test_negative_vectors_rejected(wrong):
    assert not signature_matches(ZENDESK_TEST_SECRET, TS, BODY, wrong)


def _raw_post(url, raw, headers):
    return requests.post(url + "/webhooks/zendesk", data=raw, headers=headers, timeout=10)


def test_rejections_over_http(service_factory):
    svc = service_factory(consume=False)
    body = {"ticket_id": "35436", "subject": "Refund"}
    raw = json.dumps(body).encode()
    ts = now_ts()
    good = {"X-Zendesk-Webhook-Signature": zendesk_signature(ZD_SECRET, ts, raw),
            "X-Zendesk-Webhook-Signature-Timestamp": ts, "Content-Type": "application/json"}
    cases = {
        "missing signature headers": {"Content-Type": "application/json"},
        "invalid signature": {**good, "X-Zendesk-Webhook-Signature": zendesk_signature("other", ts, raw)},
    }
    for reason, headers in cases.items():
        resp = _raw_post(svc.base_url, raw, headers)
        assert resp.status_code == 401 and resp.json() == {"error": reason}
    # a re-serialised body (spaces) no longer matches the signature of the original bytes
    resp = _raw_post(svc.base_url, json.dumps(body, indent=1).encode(), good)
    assert resp.status_code == 401
    stale = post_zendesk(svc.base_url, body, ts="2020-01-01T00:00:00Z")
    assert stale.status_code == 401 and stale.json()["error"] == "stale signature timestamp"
    # the documented test secret is refused unless the dev flag is on
    assert post_zendesk(svc.base_url, body, secret=ZENDESK_TEST_SECRET).status_code == 401
    assert svc.store.counts_by_state() == {}
    ok = _raw_post(svc.base_url, raw, good)
    assert ok.status_code == 202 and ok.json()["status"] == "accepted"


def test_test_secret_behind_flag(service_factory):
    svc = service_factory(consume=False, zendesk_allow_test_secret=True)
    assert post_zendesk(svc.base_url, {"ticket_id": "7"}, secret=ZENDESK_TEST_SECRET).status_code == 202


def test_skew_configurable(service_factory):
    svc = service_factory(consume=False, zendesk_max_skew_s=10**9)
    assert post_zendesk(svc.base_url, {"ticket_id": "8"}, ts="2021-07-25T10:00:00Z").status_code == 202
