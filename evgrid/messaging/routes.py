"""The inbound route tables: (Verb, Noun) -> CIM class, mapping, handler.

One explicit table per receiver (cosmicpython's COMMAND_HANDLERS); the Router in
:mod:`evgrid.messaging.router` does the rest. Handlers get the unit of work the router
opened, whose clock gives ``now``.

- :data:`ROUTES`: the EV Operation System's.
- :data:`SCHEDULER_ROUTES`: the EV Charging Scheduler's, step 4.1.2, the acknowledgment.
  After billing, the operation system queues ``created ChargingAcknowledgment`` to the
  outbox destination ``scheduler`` (:mod:`evgrid.mappings.outbound`). The scheduler runs
  in the same process, so its deliverer is a Router with this one table rather than a
  SOAP client: the message is decoded and validated by the codec, bound to the generated
  class, and the session is released from the plan (``planner.release``) in a unit of
  work, which holds the planner's lock and journals the MessageID. The reply is the usual
  61968-100 OK (or FAILED, e.g. 2.7 for an unknown session, which the outbox then gives
  up on). Releasing is idempotent: a session the plan no longer holds (released at
  completion, 2.3.4, or by an earlier delivery of this message) is left as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from evgrid.cim import envelope as env
from evgrid.cim import namespaces as ns
from evgrid.cim.codec import Codec, Header
from evgrid.cim.generated import end_device_events as ede
from evgrid.cim.generated import ev_charging as ev
from evgrid.mappings import ev_charging as mapping
from evgrid.mappings import writers
from evgrid.mappings.meter_readings import readings_from_cim
from evgrid.messaging.router import Outcome, Route, RouteKey, Router
from evgrid.operations import handlers
from evgrid.operations.ports import UnitOfWork


def _charging_outcome(confirmation: handlers.Confirmation, payload: tuple[object, ...]) -> Outcome:
    if not confirmation.partial:
        return Outcome(env.Result.OK, payload)
    session = confirmation.session
    if confirmation.beyond_plan:
        until = confirmation.allotment.planned_until_utc.isoformat()  # type: ignore[union-attr]
        text = (f"only {session.reachable_wh} Wh of {session.requested_wh} Wh planned: the plan reaches {until}, "
                "the departure is later; request again nearer the time for the rest")
    else:
        text = f"only {session.reachable_wh} Wh of {session.requested_wh} Wh reachable by departure"
    short = env.ReplyDetail("0.1", env.Level.WARNING, text)
    return Outcome(env.Result.PARTIAL, payload, (short,))


def _request_charging(command: object, header: Header, uow: UnitOfWork) -> Outcome:
    """1.1.2: the reply's payload written directly (:mod:`evgrid.mappings.writers`); the router writes the reply."""
    confirmation = handlers.request_charging(command, uow, uow.now, header.message_id)  # type: ignore[arg-type]
    return _charging_outcome(confirmation, writers.charging_reply_payload(confirmation))


def request_charging_cim(command: object, header: Header, uow: UnitOfWork) -> Outcome:
    """:func:`_request_charging` with the payload as generated classes, which the codec serializes (xsdata).

    The same reply bytes, about fifteen times slower to write: for tests and benchmarks.
    """
    confirmation = handlers.request_charging(command, uow, uow.now, header.message_id)  # type: ignore[arg-type]
    # The ChargingType tells the portal whose account a third-party session's usage goes to (3.3.5);
    # the ApplicableRate the tariff and rate (2.1 / 3.1.2) it is charged at, with the prices.
    payload = (mapping.confirmation_to_cim(confirmation), mapping.charging_type_to_cim(confirmation.session),
               mapping.applicable_rate_to_cim(confirmation),
               mapping.allotment_to_cim(confirmation.session, confirmation.allotment))
    return _charging_outcome(confirmation, payload)


def _step(handler):  # noqa: ANN001, ANN202
    def handle(command: object, header: Header, uow: UnitOfWork) -> Outcome:
        handler(command, uow, uow.now, header.message_id)
        return Outcome()
    return handle


def _ev(noun: str) -> str:
    return ns.qname(ns.EV_CHARGING, noun)


CHARGING_REQUEST: RouteKey = (env.Verb.CREATE, "ChargingRequest")
ROUTES: dict[RouteKey, Route] = {
    CHARGING_REQUEST: Route(
        _ev("ChargingRequest"), mapping.charging_request_from_cim, _request_charging, ev.ChargingRequest,
        "1.1.2 -> 2.1.1 / 3.1.3: request in, confirmation and slot allotment out"),
    (env.Verb.CREATED, "EndDeviceEvents"): Route(
        ns.qname(ns.END_DEVICE_EVENTS, "EndDeviceEvents"), mapping.device_events_from_cim,
        _step(handlers.record_device_events), ede.EndDeviceEvents,
        "1 / 2.3.2 / 3.3.2: station events relayed by the portal (plug-in, charging complete)"),
    (env.Verb.CREATED, "MeterReadings"): Route(
        ns.qname(ns.METER_READINGS, "MeterReadings"), readings_from_cim, _step(handlers.record_readings),
        None, "2.3.1 / 3.3.1: register at start (and any other reading)"),
    (env.Verb.CREATED, "ChargingCompletion"): Route(
        _ev("ChargingCompletion"), mapping.completion_from_cim, _step(handlers.complete),
        ev.ChargingCompletion, "2.3.4 / 3.3.4: completion"),
    (env.Verb.CREATED, "UsageAssignment"): Route(
        _ev("UsageAssignment"), mapping.usage_assignment_from_cim, _step(handlers.assign_usage),
        ev.UsageAssignment, "3.3.5: usage assigned to the EV owner"),
    (env.Verb.CREATED, "BillingInformation"): Route(
        _ev("BillingInformation"), mapping.bill_from_cim, _step(handlers.record_bill),
        ev.BillingInformation, "4.1.1 / 4.1.2: bill information in, on to the owner's portal"),
}


SOURCE = "evgrid-scheduler"
ACKNOWLEDGMENT = "ChargingAcknowledgment"


def _acknowledged(session_id: str, header: Header, uow: UnitOfWork) -> Outcome:
    """4.1.2: the session is billed; its remaining slots (if any) are free for others."""
    session = uow.sessions.get(session_id)  # UnknownReference (2.7) for a session never heard of
    uow.planner.release(session_id, session.transformer_id)
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
