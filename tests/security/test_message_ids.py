"""A MessageID is bound to its message, over the real operation system (SQLite and
PostgreSQL) and through the SOAP endpoint.

The finding: a MeterReadings event that reused a ChargingRequest's MessageID was answered
with the stored ChargingRequest reply (OK, Noun ChargingRequest) and its readings were
silently dropped; the same for another body under the same noun. Now the reuse is
refused (FAILED 2.6, correlated to the MessageID, the reason naming both messages) and
changes nothing; only the identical message, sent again, gets the stored reply.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from lxml import etree
from sqlalchemy import func, select

from evgrid.adapters.soap import wire
from evgrid.adapters.soap.evos import evos_endpoint
from evgrid.adapters.soap.security import Credentials
from evgrid.adapters.soap.server import make_app, serve_in_thread
from evgrid.adapters.store import models as m
from evgrid.apps.evos.system import OperationSystem
from evgrid.cim import namespaces as ns
from evgrid.cim.codec import Codec
from evgrid.errors import MessageIdReused
from tests.integration.test_operation_system import (
    NIGHT,
    clock,  # noqa: F401  (fixture)
    event_message,
    evos,  # noqa: F401  (fixture)
    register,
    request_message,
    result,
)
from tests.integration.test_soap_server import answer, home_request, post
from tests.integration.test_soap_server import credentials as credentials  # noqa: F401  (fixture)
from tests.unit.adapters.store.conftest import examples, store_url  # noqa: F401  (fixtures)

MSG = f"{{{ns.MESSAGE}}}"
codec = Codec()


def home(message_id: str = "M-1", *, wh: int = 20_000) -> bytes:
    return request_message("EV-1001", "S-1001", "C-1001", "UP-1001", message_id=message_id, wh=wh)


def readings(message_id: str) -> bytes:
    return event_message("MeterReadings", register("M-1001", NIGHT + timedelta(minutes=45), 700_000), message_id)


def store(evos: OperationSystem) -> dict[str, object]:  # noqa: F811
    """Every table's row count, and the journal's rows as they are."""
    with evos.sessions() as db:
        counts: dict[str, object] = {table.name: db.scalar(select(func.count()).select_from(table))
                                     for table in m.Base.metadata.sorted_tables}
        journal = m.InboundMessage.__table__
        counts["journal"] = [tuple(row) for row in db.execute(select(journal).order_by(journal.c.message_id))]
    return counts


def refusal(reply: bytes) -> tuple[str | None, str | None, str | None, str]:
    root = codec.decode(reply).root  # schema-valid
    return (root.findtext(f"{MSG}Reply/{MSG}Result"), root.findtext(f"{MSG}Reply/{MSG}Error/{MSG}code"),
            root.findtext(f"{MSG}Header/{MSG}CorrelationID"), root.findtext(f"{MSG}Reply/{MSG}Error/{MSG}reason") or "")


def test_meter_readings_reusing_a_charging_request_s_message_id_are_refused_not_dropped(
        evos: OperationSystem) -> None:  # noqa: F811
    first = evos.router.handle(home("M-1"))
    assert result(first) == ("OK", None)
    before = store(evos)
    reply = evos.router.handle(readings("M-1"))
    assert reply != first
    outcome, code, correlation, reason = refusal(reply)
    assert (outcome, code, correlation) == ("FAILED", MessageIdReused.code, "M-1")
    assert "'created MeterReadings'" in reason and "'create ChargingRequest'" in reason
    assert etree.fromstring(reply).findtext(f"{MSG}Header/{MSG}Noun") == "MeterReadings"
    assert store(evos) == before  # no readings, no journal row: the first reply stays the first message's
    # The readings, under a MessageID of their own, are taken.
    assert result(evos.router.handle(readings("M-2")))[0] == "OK"
    assert store(evos)["meter_readings"] == before["meter_readings"] + 1  # type: ignore[operator]


def test_another_charging_request_under_the_same_message_id_is_refused(evos: OperationSystem) -> None:  # noqa: F811
    first = evos.router.handle(home("M-1"))
    before = store(evos)
    other = request_message("EV-1002", "S-1003", "C-1003", "UP-1003", message_id="M-1", wh=8_000)
    for reuse in (home("M-1", wh=12_000), other):
        outcome, code, correlation, reason = refusal(evos.router.handle(reuse))
        assert (outcome, code, correlation) == ("FAILED", "2.6", "M-1")
        assert "another payload" in reason
    assert store(evos) == before
    assert evos.router.handle(home("M-1")) == first


def test_an_identical_replay_gets_the_same_reply_bytes_and_changes_nothing(evos: OperationSystem) -> None:  # noqa: F811
    first = evos.router.handle(home("M-1"))
    before = store(evos)
    again = home("M-1")  # made anew: another Timestamp in its Header
    assert evos.router.handle(again) == first
    assert store(evos) == before


@pytest.fixture
def base(evos: OperationSystem, credentials: Credentials) -> Iterator[str]:  # noqa: F811
    with serve_in_thread(make_app([evos_endpoint(evos)], credentials)) as url:
        yield url


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_through_the_soap_endpoint_where_the_portal_s_message_is_routed_before_the_router(
        base: str, evos: OperationSystem) -> None:  # noqa: F811
    first = post(base, home_request("W-1"))
    assert answer(first).result == "OK"
    before = store(evos)
    changed = wire.envelope(home("W-1", wh=12_000))
    refused = answer(post(base, changed))
    assert (refused.status, refused.result, refused.code) == (200, "FAILED", "2.6")
    assert store(evos) == before
    assert post(base, home_request("W-1")).content == first.content
