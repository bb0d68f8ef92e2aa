"""The EV Operation System's SOAP endpoint: its WSDL's operations -> ``system.router``.

Before the router runs, :class:`EvosAuthorization` checks who may do what:

- by kind: portals send requests, readings, events, completions and usage assignments;
  billing sends bill information; a utility principal (the utility's own systems) may
  call every operation; MDM principals none.
- by site: a portal is bound to one customer and usage point. Its ChargingRequest must
  name that customer and usage point (the core checks in turn that the station is at
  that premise: 7.0); its ChargingCompletion and UsageAssignment must be for a session
  at a station of that usage point; its MeterReadings must be of that usage point's
  meter. The payload is bound by the router's own route and
  mapping (:meth:`~evgrid.messaging.router.Router.route`), once: the check returns that
  :class:`~evgrid.messaging.router.Routed` and the router's handler gets the very same
  command (:meth:`~evgrid.messaging.router.Router.handle_inbound`), so the check and the
  handler read the same values. The message the server decoded and validated is the one
  routed: it is never decoded again.

A refusal is NotAuthorized (7.3): FAILED, HTTP 403, nothing stored or changed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from evgrid.adapters.soap.security import Principal, PrincipalKind
from evgrid.adapters.soap.server import SoapEndpoint, inbound_endpoint_for
from evgrid.cim.codec import Inbound
from evgrid.cim.envelope import Verb
from evgrid.errors import AdapterError, NotAuthorized, StoreError
from evgrid.mappings.services import EV_OPERATION_SYSTEM
from evgrid.messaging.router import UNAVAILABLE, Routed, Router
from evgrid.operations.handlers import Completion, UsageAssignment
from evgrid.operations.model import ChargingRequest, MeterReadingSet
from evgrid.operations.ports import UnitOfWork

_PORTAL = frozenset({PrincipalKind.PORTAL, PrincipalKind.UTILITY})
_BILLING = frozenset({PrincipalKind.BILLING, PrincipalKind.UTILITY})

# (verb, noun) -> the kinds of principal that may send it.
MAY_SEND: Mapping[tuple[Verb, str], frozenset[PrincipalKind]] = {
    (Verb.CREATE, "ChargingRequest"): _PORTAL,
    (Verb.CREATED, "EndDeviceEvents"): _PORTAL,
    (Verb.CREATED, "MeterReadings"): _PORTAL,
    (Verb.CREATED, "ChargingCompletion"): _PORTAL,
    (Verb.CREATED, "UsageAssignment"): _PORTAL,
    (Verb.CREATED, "BillingInformation"): _BILLING,
}


class OperationSystem(Protocol):
    """What the endpoint needs of the operation system: its router and its units of work."""

    @property
    def router(self) -> Router: ...  # noqa: D102

    @property
    def unit_of_work(self) -> Callable[[], UnitOfWork]: ...  # noqa: D102


class EvosAuthorization:
    """The ``authorize`` hook of the operation system's endpoint."""

    def __init__(self, system: OperationSystem) -> None:
        self.system = system

    def __call__(self, principal: Principal, inbound: Inbound) -> Routed | None:
        """Refuse with :class:`NotAuthorized` unless ``principal`` may send ``inbound``.

        Returns the message routed and bound when the check needed its payload (a portal),
        for the handler to use as it is; None when it did not (the router routes it then).
        """
        header = inbound.header
        assert header is not None  # the server checked it against the SOAPAction
        operation = f"'{header.verb.value} {header.noun}'"
        if principal.kind not in MAY_SEND.get((header.verb, header.noun), frozenset()):
            raise NotAuthorized(f"{principal.kind.value} {principal.user!r} may not send {operation}")
        if principal.kind is not PrincipalKind.PORTAL:
            return None
        routed = self.system.router.route(inbound)
        command = routed.command
        site = (principal.customer_id, principal.usage_point_id)
        if isinstance(command, ChargingRequest) and (command.customer_id, command.usage_point_id) != site:
            raise NotAuthorized(
                f"portal {principal.user!r} is bound to customer {principal.customer_id} at "
                f"{principal.usage_point_id}, not customer {command.customer_id} at {command.usage_point_id}")
        try:
            if isinstance(command, Completion | UsageAssignment):
                self._own_session(principal, command.session_id, operation)
            elif isinstance(command, MeterReadingSet):
                self._own_meter(principal, command, operation)
        except Exception as error:
            if not isinstance(error, AdapterError) and self.system.router.unavailable(error):
                raise StoreError(UNAVAILABLE) from None  # answered FAILED 5.0, as the router answers an outage
            raise
        return routed

    def _own_meter(self, principal: Principal, readings: MeterReadingSet, operation: str) -> None:
        with self.system.unit_of_work() as uow:
            meter = uow.registry.meter_at(principal.usage_point_id or "")
        meters = {r.meter_mrid for r in readings.registers} | {b.meter_mrid for b in readings.intervals}
        if meters - {meter}:
            raise NotAuthorized(f"portal {principal.user!r} at {principal.usage_point_id} may only send "
                                f"{operation} of its own meter {meter}, not {', '.join(sorted(meters - {meter}))}")

    def _own_session(self, principal: Principal, session_id: str, operation: str) -> None:
        with self.system.unit_of_work() as uow:
            session = uow.sessions.get(session_id)
            station = uow.registry.station(session.station_id)
        if station is None or station.premise.usage_point_id != principal.usage_point_id:
            raise NotAuthorized(f"portal {principal.user!r} at {principal.usage_point_id} may not send "
                                f"{operation} for session {session_id} at another site")


def evos_endpoint(system: OperationSystem) -> SoapEndpoint:
    """The EVOperationSystem endpoint: every operation of its WSDL, routed by ``system.router``."""
    router = system.router

    def handle(inbound: Inbound, principal: Principal | None, routed: Routed | None) -> bytes:
        return router.handle_inbound(inbound, sender=principal.user if principal else None, routed=routed)

    return inbound_endpoint_for(EV_OPERATION_SYSTEM.name, handle, authorize=EvosAuthorization(system))
