"""The EV Operation System's inbound routes: (Verb, Noun) -> CIM class, mapping, handler.

One explicit table (cosmicpython's COMMAND_HANDLERS); the Router in
:mod:`evgrid.adapters.inbound` does the rest. Handlers get the unit of work the router
opened, whose clock gives ``now``.
"""

from __future__ import annotations

from evgrid.adapters.inbound import Outcome, Route, RouteKey
from evgrid.cim import envelope as env
from evgrid.cim import namespaces as ns
from evgrid.cim.codec import Header
from evgrid.cim.generated import end_device_events as ede
from evgrid.cim.generated import ev_charging as ev
from evgrid.mappings import ev_charging as mapping
from evgrid.mappings.meter_readings import readings_from_cim
from evgrid.operations import handlers
from evgrid.operations.ports import UnitOfWork


def _request_charging(command: object, header: Header, uow: UnitOfWork) -> Outcome:
    confirmation = handlers.request_charging(command, uow, uow.now, header.message_id)  # type: ignore[arg-type]
    # The ChargingType tells the portal whose account a third-party session's usage goes to (3.3.5).
    payload = (mapping.confirmation_to_cim(confirmation), mapping.charging_type_to_cim(confirmation.session),
               mapping.allotment_to_cim(confirmation.session, confirmation.allotment))
    if not confirmation.partial:
        return Outcome(env.Result.OK, payload)
    short = env.ErrorDetail("0.1", env.Level.WARNING, f"only {confirmation.session.reachable_wh} Wh of "
                            f"{confirmation.session.requested_wh} Wh reachable by departure")
    return Outcome(env.Result.PARTIAL, payload, (short,))


def _step(handler):  # noqa: ANN001, ANN202
    def handle(command: object, header: Header, uow: UnitOfWork) -> Outcome:
        handler(command, uow, uow.now, header.message_id)
        return Outcome()
    return handle


def _ev(noun: str) -> str:
    return ns.qname(ns.EV_CHARGING, noun)


ROUTES: dict[RouteKey, Route] = {
    (env.Verb.CREATE, "ChargingRequest"): Route(
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
