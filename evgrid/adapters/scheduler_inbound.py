"""The EV Charging Scheduler's in-process inbound: step 4.1.2, the acknowledgment.

After billing, the operation system queues ``created ChargingAcknowledgment`` to the
outbox destination ``scheduler`` (:mod:`evgrid.mappings.outbound`). The scheduler runs
in the same process, so its deliverer is a :class:`~evgrid.adapters.inbound.Router`
with one route rather than a SOAP client: the message is decoded and validated by the
codec, bound to the generated class, and the session is released from the night plan
(``planner.release``) in a unit of work, which holds the planner's lock and journals
the MessageID. The reply is the usual 61968-100 OK (or FAILED, e.g. 2.7 for an unknown
session, which the outbox then gives up on).

Releasing is idempotent: a session the plan no longer holds (released at completion,
2.3.4, or by an earlier delivery of this message) is left as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from evgrid.adapters.inbound import Outcome, Route, RouteKey, Router
from evgrid.cim import envelope as env
from evgrid.cim import namespaces as ns
from evgrid.cim.codec import Codec, Header
from evgrid.cim.generated import ev_charging as ev
from evgrid.operations.ports import UnitOfWork

SOURCE = "evgrid-scheduler"
ACKNOWLEDGMENT = "ChargingAcknowledgment"


def _acknowledged(session_id: str, header: Header, uow: UnitOfWork) -> Outcome:
    """4.1.2: the session is billed; its remaining slots (if any) are free for others."""
    uow.sessions.get(session_id)  # UnknownReference (2.7) for a session never heard of
    uow.planner.release(session_id)
    return Outcome()


def _session_of(acknowledgment: ev.ChargingAcknowledgment) -> str:
    return acknowledgment.charging_session.m_rid


SCHEDULER_ROUTES: Mapping[RouteKey, Route] = {
    (env.Verb.CREATED, ACKNOWLEDGMENT): Route(
        ns.qname(ns.EV_CHARGING, ACKNOWLEDGMENT), _session_of, _acknowledged, ev.ChargingAcknowledgment,
        "4.1.2 billing is done: release the session from the night plan",
    ),
}


def scheduler_deliverer(unit_of_work: Callable[[], UnitOfWork], *,
                        codec: Codec | None = None) -> Callable[[str, bytes], bytes]:
    """The outbox deliverer of the destination ``scheduler``: returns the reply bytes."""
    router = Router(SCHEDULER_ROUTES, codec=codec, source=SOURCE, unit_of_work=unit_of_work)

    def deliver(destination: str, body: bytes) -> bytes:
        return router.handle(body)

    return deliver
