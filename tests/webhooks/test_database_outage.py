"""PostgreSQL goes down under a running receiver and comes back: while it is down every webhook
gets a 503 with a reason (never a 2xx that was not committed), and once it is back the helpdesk's
redeliveries are stored and written back exactly once, with no restart of the service.

A server of this test's own (``pgserver.PostgresServer``), stopped as a crash would stop it
(``pg_ctl stop -m immediate``) and started again on the same port with the same data.
"""

from __future__ import annotations

import pytest

import pgserver
from plugin.db import close_database

from .conftest import post_zendesk, wait_for

pytestmark = pytest.mark.postgres
REFUND = "I was charged twice for my order, please refund the duplicate payment."


@pytest.fixture
def outage_server():
    reason = pgserver.unavailable()
    if reason:
        pytest.skip(reason)
    server = pgserver.PostgresServer().start()
    url = server.create_database("outage")
    yield server, url
    close_database(url)
    server.stop()


def redeliver(url: str, body: dict, attempts: int = 6) -> int:
    """What a helpdesk does with a 5xx: deliver the same body again (here at once)."""
    status = 0
    for _ in range(attempts):
        status = post_zendesk(url, body).status_code
        if status < 500:
            break
    return status


def test_receiver_answers_503_while_postgres_is_down_and_recovers_without_restart(outage_server, zd, service_factory):
    server, url = outage_server
    svc = service_factory(zd, database_url=url)
    before, during = zd.create_ticket("Refund", REFUND), zd.create_ticket("Refund", REFUND)
    assert post_zendesk(svc.base_url, {"ticket_id": str(before["id"]), "subject": "Refund"}).status_code == 202
    assert wait_for(lambda: zd.writes[str(before["id"])] == 1)

    server.pause()
    answers = [post_zendesk(svc.base_url, {"ticket_id": str(during["id"]), "subject": "Refund"}) for _ in range(2)]
    assert [r.status_code for r in answers] == [503] * 2  # within POOL_TIMEOUT_S, under the helpdesk's 12 s
    assert answers[0].json() == {"error": "event store unavailable, retry later"}

    server.resume()
    assert redeliver(svc.base_url, {"ticket_id": str(during["id"]), "subject": "Refund"}) == 202
    assert wait_for(lambda: svc.store.counts_by_state() == {"written_back": 2})
    assert zd.writes[str(during["id"])] == 1
    assert zd.writes[str(before["id"])] == 1  # the outage repeated nothing
