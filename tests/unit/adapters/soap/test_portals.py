"""The portal directory: the portals CSV, one client per portal host, routing by premise."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from evgrid.adapters.soap.portals import PortalDelivery, add_portal_credentials, load_portals
from evgrid.adapters.soap.security import Credentials, PrincipalKind, hash_password
from evgrid.errors import PortalsFileError, UpstreamFault
from evgrid.messaging.outbox import Due, OutboxItem, OutboxWorker, RetryPolicy

HEADER = "user,password,customer_id,usage_point_id,premise_number,portal_url\n"
ROWS = ("portal-1,pw-1,C-1,UP-1,P-1,http://127.0.0.1:8101\n"
        "portal-2,pw-2,C-2,UP-2,P-2,http://127.0.0.1:8101/\n"
        "\n"
        "portal-3,pw-3,C-3,UP-3,P-3,https://127.0.0.1:8102\n")
NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "portals.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_two_premises_on_one_host_and_one_on_another_make_two_clients(tmp_path: Path) -> None:
    sites = load_portals(write(tmp_path, HEADER + ROWS))
    assert [(s.principal.user, s.premise_number, s.portal_url) for s in sites] == [
        ("portal-1", "P-1", "http://127.0.0.1:8101"), ("portal-2", "P-2", "http://127.0.0.1:8101"),
        ("portal-3", "P-3", "https://127.0.0.1:8102")]
    with PortalDelivery(sites, credentials=("evos", "secret")) as delivery:
        assert sorted(delivery.clients) == ["http://127.0.0.1:8101", "https://127.0.0.1:8102"]
        assert delivery.client_for("P-1") is delivery.client_for("P-2") is delivery.clients["http://127.0.0.1:8101"]
        assert delivery.client_for("P-3") is delivery.clients["https://127.0.0.1:8102"]
        assert delivery.client_for("P-3").address == "https://127.0.0.1:8102/CustomerPortal"
        assert delivery.client_for("P-9") is None


def test_the_portals_log_in_bound_to_their_site(tmp_path: Path) -> None:
    credentials = Credentials()
    add_portal_credentials(credentials, load_portals(write(tmp_path, HEADER + ROWS)), workers=2)
    assert len(credentials) == 3
    principal = credentials.check_password("portal-2", "pw-2")
    assert (principal.kind, principal.customer_id, principal.usage_point_id) == (PrincipalKind.PORTAL, "C-2", "UP-2")


def test_precomputed_hashes_load_without_hashing(tmp_path: Path) -> None:
    text = HEADER.replace("password", "password_hash") + f"portal-1,{hash_password('pw-1')},C-1,UP-1,P-1,http://h:1\n"
    credentials = Credentials()
    add_portal_credentials(credentials, load_portals(write(tmp_path, text)))
    assert credentials.check_password("portal-1", "pw-1").usage_point_id == "UP-1"


@pytest.mark.parametrize(("text", "message"), [
    ("user,customer_id,usage_point_id,premise_number,portal_url\n", "the header must be"),
    (HEADER.replace("\n", ",extra\n"), "the header must be"),
    (HEADER + "portal-1,,C-1,UP-1,P-1,http://h:1\n", "portals.csv:2: empty password"),
    (HEADER + "portal-1,pw,C-1,UP-1,P-1,http://h:1,more\n", "too many values"),
    (HEADER + "portal-1,pw,C-1,UP-1,P-1,ftp://h:1\n", "not an http(s) base URL"),
    (HEADER + ROWS + "portal-1,pw,C-4,UP-4,P-4,http://h:1\n", "portals.csv:6: user portal-1 is listed twice"),
    (HEADER + ROWS + "portal-4,pw,C-4,UP-4,P-1,http://h:1\n", "premise P-1 is served at http://127.0.0.1:8101"),
    (HEADER.replace("password", "password_hash") + "portal-1,plain,C-1,UP-1,P-1,http://h:1\n", "password hash"),
])
def test_a_bad_portals_file_is_refused_with_its_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(PortalsFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        add_portal_credentials(Credentials(), load_portals(write(tmp_path, text)))


class MemoryOutbox:
    """An OutboxStore in memory."""

    def __init__(self, *items: OutboxItem) -> None:
        self.items = {item.id: item for item in items}
        self.errors: dict[int, str] = {}
        self.status: dict[int, str] = {item.id: "pending" for item in items}

    def pending(self, limit: int, *, due: Due) -> list[OutboxItem]:
        return [item for key, item in sorted(self.items.items()) if self.status[key] == "pending"][:limit]

    def claim(self, item: OutboxItem, until: datetime) -> bool:
        self.items[item.id] = replace(item, attempts=item.attempts + 1, next_attempt_at=until)
        return True

    def delivered(self, item: OutboxItem, reply: bytes, at: datetime) -> None:
        self.status[item.id] = "delivered"

    def retry(self, item: OutboxItem, error: str, at: datetime) -> None:
        self.items[item.id] = replace(self.items[item.id], next_attempt_at=at)
        self.errors[item.id] = error

    def give_up(self, item: OutboxItem, error: str) -> None:
        self.status[item.id] = "failed"


def test_a_message_for_an_unknown_premise_stays_pending_and_is_retried(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    outbox = MemoryOutbox(OutboxItem(1, "EndDeviceControls:S-9:start", "portal:P-9", b"<x/>", 0, NOW))
    with PortalDelivery(load_portals(write(tmp_path, HEADER + ROWS)), credentials=("evos", "secret")) as delivery:
        with pytest.raises(UpstreamFault, match="no portal host is configured for premise P-9"):
            delivery("portal:P-9", b"<x/>")
        worker = OutboxWorker(outbox, {"portal:*": delivery}, policy=RetryPolicy(base_s=1, cap_s=10))
        with caplog.at_level(logging.WARNING, "evgrid.messaging.outbox"):
            assert worker.deliver_due(NOW) == 0
    assert outbox.status[1] == "pending" and outbox.items[1].attempts == 1
    assert outbox.errors[1] == "4.1 no portal host is configured for premise P-9 (--portals)"
    assert NOW <= outbox.items[1].next_attempt_at <= NOW + timedelta(seconds=1)  # wall-time backoff
    assert "portal:P-9: attempt 1 failed (4.1 no portal host is configured for premise P-9" in caplog.text
