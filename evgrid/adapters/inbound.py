"""The inbound router: bytes in, a schema-valid IEC 61968-100 reply out, always.

Codec (parse, guard, validate, read header) -> route on (Verb, Noun) -> check the payload
element -> bind it (a mapping function) -> handler -> reply. This is one of the two
places where exceptions become replies: any :class:`~evgrid.errors.AdapterError` is
answered FAILED with its code; anything else is logged with its traceback and answered
with a generic FAILED (5.0) that leaks nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from evgrid.cim import envelope as env
from evgrid.cim.codec import Codec, Header, Inbound, MessageKind
from evgrid.errors import AdapterError, MissingElement, UnsupportedOperation

log = logging.getLogger(__name__)

RouteKey = tuple[env.Verb, str]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a handler answers: a result, payload objects (generated classes) and errors."""

    result: env.Result = env.Result.OK
    payload: tuple[object, ...] = ()
    errors: tuple[env.ErrorDetail, ...] = ()
    noun: str | None = None


@dataclass(frozen=True, slots=True)
class Route:
    """One (Verb, Noun): the payload element it expects, how to bind it, who handles it."""

    payload: str | None
    bind: Callable[[etree._Element], Any]
    handle: Callable[[Any, Header], Outcome]
    description: str = field(default="")


class Router:
    """Routes 61968-100 requests and events to handlers; every call returns reply bytes."""

    def __init__(self, routes: Mapping[RouteKey, Route], *, codec: Codec | None = None,
                 source: str = "evgrid") -> None:
        self.routes = dict(routes)
        self.codec = codec or Codec()
        self.source = source

    def route(self, inbound: Inbound) -> tuple[Route, Any]:
        """Find the route of a decoded message and bind its payload."""
        header = inbound.header
        if header is None or inbound.kind in (MessageKind.RESPONSE, MessageKind.FAULT):
            raise UnsupportedOperation("only request and event messages are accepted here")
        route = self.routes.get((header.verb, header.noun))
        if route is None:
            raise UnsupportedOperation(f"no operation '{header.verb.value} {header.noun}' here")
        if route.payload is None:
            return route, None
        if inbound.payload is None:
            raise MissingElement(f"'{header.verb.value} {header.noun}' needs a payload")
        if inbound.payload.tag != route.payload:
            found = etree.QName(inbound.payload)
            raise UnsupportedOperation(
                f"payload {found.localname} ({found.namespace}) does not match noun {header.noun}"
            )
        return route, route.bind(inbound.payload)

    def handle(self, data: bytes | str) -> bytes:
        """Answer one message; never raises, never returns anything but a valid reply."""
        inbound: Inbound | None = None
        try:
            inbound = self.codec.decode(data)
            route, command = self.route(inbound)
            assert inbound.header is not None
            outcome = route.handle(command, inbound.header)
            message = env.reply(
                outcome.result, outcome.noun or inbound.header.noun, *outcome.payload,
                source=self.source, correlation_id=inbound.header.message_id, errors=outcome.errors,
            )
        except AdapterError as error:
            message = self._failed(error, inbound)
        except Exception:  # the router is the boundary: log it, leak nothing
            log.exception("unexpected error while handling a message")
            message = self._failed(AdapterError("internal error; the message was not processed"), inbound)
        return self.codec.dump(message)

    def _failed(self, error: AdapterError, inbound: Inbound | None) -> object:
        header = inbound.header if inbound else None
        return env.reply_failed(
            error, noun=header.noun if header else None, source=self.source,
            correlation_id=header.message_id if header else None,
        )
