"""Step 4.1.2 in process: the scheduler's deliverer releases the session and answers OK."""

from __future__ import annotations

from types import TracebackType

from evgrid.cim import envelope as env
from evgrid.cim import namespaces as ns
from evgrid.cim.codec import Codec, MessageKind
from evgrid.mappings.outbound import render
from evgrid.messaging.routes import SOURCE, scheduler_deliverer
from evgrid.operations import events
from evgrid.scheduler.partitions import PartitionedPlanner
from tests.unit.operations.fakes import FakeUnitOfWork
from tests.unit.scheduler.test_partitions import HORIZON, Grid
from tests.unit.scheduler.test_planner import START, session

MSG = "{" + ns.MESSAGE + "}"
codec = Codec()


class PlannerUnitOfWork(FakeUnitOfWork):
    """The in-memory ports with the real planner: staged, committed or discarded."""

    def __init__(self) -> None:
        super().__init__()
        self.night = PartitionedPlanner(HORIZON, Grid({"TX-1": "F-1"}))

    def __enter__(self) -> PlannerUnitOfWork:
        super().__enter__()
        self.planner = self.night  # type: ignore[assignment]
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.night.discard()
        super().__exit__(kind, error, tb)

    def commit(self) -> None:
        super().commit()
        self.night.commit()


def acknowledgment(session_id: str) -> bytes:
    event = events.SessionAcknowledged(session_id, f"BILL-{session_id}", "A")
    message = render(event, codec, source="evgrid-evos")
    assert (message.destination, message.noun) == (events.SCHEDULER, "ChargingAcknowledgment")
    return message.body


def reply(body: bytes) -> tuple[str | None, str | None, str | None]:
    decoded = codec.decode(body)
    assert decoded.kind is MessageKind.RESPONSE and decoded.header is not None
    assert decoded.header.source == SOURCE
    code = decoded.root.findtext(f"{MSG}Reply/{MSG}Error/{MSG}code")
    return decoded.result, decoded.header.correlation_id, code


def test_uc_4_1_2_the_acknowledgment_releases_the_session_once() -> None:
    uow = PlannerUnitOfWork()
    charging = session("S-1")
    uow.committed.sessions["S-1"] = charging
    uow.night.place(charging, START)
    uow.night.commit()
    assert set(uow.night.planned()) == {"S-1"}
    deliver = scheduler_deliverer(lambda: uow, codec=codec)

    first = deliver(events.SCHEDULER, acknowledgment("S-1"))
    assert reply(first) == ("OK", "ChargingAcknowledgment:S-1", None)
    assert uow.night.planned() == {}
    # Delivered again (a crash before the outbox recorded it): the same answer, nothing changes.
    assert reply(deliver(events.SCHEDULER, acknowledgment("S-1")))[0] == "OK"
    assert uow.night.planned() == {}


def test_an_acknowledgment_for_an_unknown_session_fails_for_good() -> None:
    uow = PlannerUnitOfWork()
    result, correlation, code = reply(scheduler_deliverer(lambda: uow)(events.SCHEDULER, acknowledgment("S-9")))
    assert (result, correlation, code) == ("FAILED", "ChargingAcknowledgment:S-9", "2.7")


def test_only_the_acknowledgment_is_accepted() -> None:
    uow = PlannerUnitOfWork()
    other = codec.dump(env.event(env.Verb.CREATED, "ChargingCompletion", source="evgrid-evos", message_id="x"))
    assert reply(scheduler_deliverer(lambda: uow)(events.SCHEDULER, other))[::2] == ("FAILED", "2.3")
    assert reply(scheduler_deliverer(lambda: uow)(events.SCHEDULER, b"<not-xml"))[0] == "FAILED"
