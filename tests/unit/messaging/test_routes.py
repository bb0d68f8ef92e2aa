"""The route tables: which (Verb, Noun) each receiver takes, and that every route's parts fit together.

A route names the payload element it expects, the generated class that element is bound
to (none: the mapping reads the validated lxml element), the mapping to a domain
command, and the handler of that command (:class:`evgrid.messaging.router.Route`).
What the routers do with a message is tested in test_router_inbound.py and
test_scheduler_routes.py.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import pytest
from lxml import etree
from xsdata.formats.dataclass.context import XmlContext

from evgrid.cim.codec import Header
from evgrid.cim.envelope import Verb
from evgrid.cim.generated import end_device_events as ede
from evgrid.cim.generated import ev_charging as ev
from evgrid.mappings import ev_charging as mapping
from evgrid.mappings.meter_readings import readings_from_cim
from evgrid.mappings.services import EV_OPERATION_SYSTEM, SERVICES
from evgrid.messaging.router import Route, RouteKey
from evgrid.messaging.routes import ACKNOWLEDGMENT, ROUTES, SCHEDULER_ROUTES
from evgrid.operations import handlers
from evgrid.operations.ports import UnitOfWork

# The EV Operation System's routes: (verb, noun) -> (generated class, mapping, handler of operations.handlers).
OPERATION_SYSTEM: dict[RouteKey, tuple[type | None, Callable[..., Any], Callable[..., Any]]] = {
    (Verb.CREATE, "ChargingRequest"): (ev.ChargingRequest, mapping.charging_request_from_cim,
                                       handlers.request_charging),
    (Verb.CREATED, "EndDeviceEvents"): (ede.EndDeviceEvents, mapping.device_events_from_cim,
                                        handlers.record_device_events),
    (Verb.CREATED, "MeterReadings"): (None, readings_from_cim, handlers.record_readings),  # read off the tree
    (Verb.CREATED, "ChargingCompletion"): (ev.ChargingCompletion, mapping.completion_from_cim, handlers.complete),
    (Verb.CREATED, "UsageAssignment"): (ev.UsageAssignment, mapping.usage_assignment_from_cim, handlers.assign_usage),
    (Verb.CREATED, "BillingInformation"): (ev.BillingInformation, mapping.bill_from_cim, handlers.record_bill),
}
EVERY_ROUTE = [pytest.param(key, route, id=f"{key[0].value} {key[1]}")
               for table in (ROUTES, SCHEDULER_ROUTES) for key, route in table.items()]
OPERATION_SYSTEM_ROUTES = [pytest.param(key, route, id=f"{key[0].value} {key[1]}") for key, route in ROUTES.items()]
_context = XmlContext()


def parameters(function: Callable[..., Any]) -> list[Any]:
    """The resolved types of a function's parameters, in order."""
    hints = typing.get_type_hints(function)
    return [hints[name] for name in inspect.signature(function).parameters]


def returned(function: Callable[..., Any]) -> Any:
    return typing.get_type_hints(function)["return"]


class Called(Exception):
    """Raised by a stand-in handler: it was reached, with these arguments."""


def handler_reached(route: Route, key: RouteKey, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """The function of operations.handlers that the route's ``handle`` calls, and with what.

    A handle made by ``_step(handler)`` holds it in its closure; any other handle is
    called with every handler replaced by a stand-in, and must call exactly one of them
    with the command, the unit of work, its ``now`` and the MessageID.
    """
    wrapped = inspect.getclosurevars(route.handle).nonlocals.get("handler")
    if wrapped is not None:
        return wrapped
    originals = {name: function for name, function in vars(handlers).items()
                 if inspect.isfunction(function) and function.__module__ == handlers.__name__}
    for name in originals:
        def stand_in(*args: object, name: str = name) -> None:
            raise Called(name, args)
        monkeypatch.setattr(handlers, name, stand_in)
    command, uow = object(), SimpleNamespace(now=object())
    with pytest.raises(Called) as called:
        route.handle(command, Header(key[0], key[1], message_id="M-1"), uow)
    name, args = called.value.args
    assert args == (command, uow, uow.now, "M-1")
    return originals[name]


def test_the_operation_system_routes_exactly_its_six_verb_noun_pairs() -> None:
    assert set(ROUTES) == {
        (Verb.CREATE, "ChargingRequest"),
        (Verb.CREATED, "EndDeviceEvents"),
        (Verb.CREATED, "MeterReadings"),
        (Verb.CREATED, "ChargingCompletion"),
        (Verb.CREATED, "UsageAssignment"),
        (Verb.CREATED, "BillingInformation"),
    }
    assert set(OPERATION_SYSTEM) == set(ROUTES)


def test_the_scheduler_routes_exactly_the_acknowledgment() -> None:
    assert set(SCHEDULER_ROUTES) == {(Verb.CREATED, "ChargingAcknowledgment")}
    assert ACKNOWLEDGMENT == "ChargingAcknowledgment"


@pytest.mark.parametrize(("key", "route"), EVERY_ROUTE)
def test_each_route_expects_the_element_of_its_noun_and_binds_it_as_its_mapping_takes_it(
        key: RouteKey, route: Route) -> None:
    assert route.payload is not None and etree.QName(route.payload).localname == key[1]
    if route.cim_class is not None:
        # The generated class binds that very element, and the mapping takes that class.
        assert _context.build(route.cim_class).qname == route.payload
        assert parameters(route.bind) == [route.cim_class]
    else:
        assert parameters(route.bind) == [etree._Element]  # the validated element itself
    assert route.description.strip()


@pytest.mark.parametrize(("key", "route"), OPERATION_SYSTEM_ROUTES)
def test_each_route_maps_to_its_handler_the_command_it_takes(key: RouteKey, route: Route,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    cim_class, bind, handler = OPERATION_SYSTEM[key]
    assert (route.cim_class, route.bind) == (cim_class, bind)
    assert handler_reached(route, key, monkeypatch) is handler
    command, uow, now, message_id = parameters(handler)[:4]
    assert command == returned(bind)
    assert (uow, now, message_id) == (UnitOfWork, datetime, str | None)


def test_the_acknowledgment_route_hands_its_handler_the_session_id() -> None:
    route = SCHEDULER_ROUTES[(Verb.CREATED, ACKNOWLEDGMENT)]
    assert returned(route.bind) is str
    assert parameters(route.handle)[0] is str


def test_every_route_of_the_operation_system_is_an_operation_of_its_service() -> None:
    operations = {(op.verb, op.noun): op for op in EV_OPERATION_SYSTEM.operations}
    assert EV_OPERATION_SYSTEM.name == "EVOperationSystem"
    assert set(ROUTES) == set(operations)  # and nothing its WSDL offers goes unrouted
    for key, route in ROUTES.items():
        assert route.payload == operations[key].payload, key


def test_the_acknowledgment_is_no_soap_operation() -> None:
    # The scheduler runs in the operation system's process: its route is not a service's operation.
    assert not [(service.name, op.name) for service in SERVICES for op in service.operations
                if (op.verb, op.noun) in SCHEDULER_ROUTES]
