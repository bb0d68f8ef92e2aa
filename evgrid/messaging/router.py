"""The inbound router: a message in, a schema-valid IEC 61968-100 reply out, always.

Codec (parse, guard, validate, read header) -> route on (Verb, Noun) -> check the payload
element -> bind it (the route's CIM class, then its mapping) -> handler -> reply.
:meth:`Router.handle` takes the bytes and does all of it; a transport that has already
decoded and validated the message (the SOAP server) hands over the :class:`Inbound`
instead (:meth:`Router.handle_inbound`), and, if it needed the bound payload before the
handler runs (an authorization check), the :class:`Routed` it got from
:meth:`Router.route`: a message is decoded, validated and bound once. This is
one of the two places where exceptions become replies: any
:class:`~evgrid.errors.AdapterError` is answered FAILED with its code; anything else is
logged with its traceback and answered with a generic FAILED (5.0) that leaks nothing,
unless the binding asks to retry it itself (``raise_unexpected``, the ESB).

Exactly once: with a unit of work, the handler's changes, the reply and the MessageID
are committed in one transaction, and a MessageID seen before gets its stored reply
without running the handler again. A MessageID is bound to its message: the journal
keeps its sender, verb, noun and the digest of its body (:func:`message_digest`), and
the same MessageID on another message (another verb, noun or body) is refused
(:class:`~evgrid.errors.MessageIdReused`, 2.6) without changing or storing anything; only
the identical message, sent again, gets the stored reply.
"""

from __future__ import annotations

import copy
import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, NamedTuple

from lxml import etree

from evgrid.cim import envelope as env
from evgrid.cim.codec import Codec, Header, Inbound, MessageKind
from evgrid.errors import (
    AdapterError,
    InvalidParameter,
    MessageIdReused,
    MissingElement,
    SecurityRejected,
    UnsupportedOperation,
)
from evgrid.mappings import writers
from evgrid.mappings.writers import Written
from evgrid.operations.ports import UnitOfWork

log = logging.getLogger(__name__)

# The store keeps identifiers in 64 characters (a session's id is "S-" and its request's
# mRID) and MessageIDs in 128. The schemas allow any length, so longer ones are refused
# here as bad input (2.6) instead of failing in the database as an internal error.
MRID_MAX = 62
MESSAGE_ID_MAX = 128
UNAVAILABLE = "the database is unavailable; nothing was changed: send it again later"


def _never(error: BaseException) -> bool:
    return False


def message_digest(inbound: Inbound) -> str:
    """What a MessageID is bound to: SHA-256 (hex) of the verb, the noun and the body.

    The body is every part of the message but its Header (Request, Payload), each in
    exclusive XML canonical form without comments: a client's retry of the same message
    matches though its Header (Timestamp, MessageID) and namespace declarations differ.
    Needs the payload as it came: :meth:`Router.route` binds a copy of it.
    """
    header = inbound.header
    digest = hashlib.sha256(f"{header.verb.value}\n{header.noun}\n".encode() if header else b"\n\n")
    for part in inbound.root:
        if isinstance(part.tag, str) and etree.QName(part).localname != "Header":
            try:
                digest.update(etree.tostring(part, method="c14n", exclusive=True, with_comments=False))
            except etree.C14NError:  # what C14N refuses (a relative namespace URI): as it is written
                digest.update(etree.tostring(part))
    return digest.hexdigest()


class _Digest:
    """:func:`message_digest` of one message, computed when first asked for (only a journal asks)."""

    __slots__ = ("_inbound", "_value")

    def __init__(self, inbound: Inbound) -> None:
        self._inbound = inbound
        self._value: str | None = None

    @property
    def value(self) -> str:
        if self._value is None:
            self._value = message_digest(self._inbound)
        return self._value


RouteKey = tuple[env.Verb, str]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a handler answers: a result, payload objects (generated classes, or written XML) and errors."""

    result: env.Result = env.Result.OK
    payload: tuple[object, ...] = ()
    errors: tuple[env.ReplyDetail, ...] = ()
    noun: str | None = None


@dataclass(frozen=True, slots=True)
class Route:
    """One (Verb, Noun): the payload element it expects, how to bind it, who handles it.

    ``cim_class`` set: the payload is bound to that generated class, then ``bind`` maps it
    to a domain command. Unset: ``bind`` gets the validated lxml element (fast nouns).
    """

    payload: str | None
    bind: Callable[[Any], Any]
    handle: Callable[[Any, Header, Any], Outcome]
    cim_class: type | None = None
    description: str = field(default="")


class Routed(NamedTuple):
    """A message's route and its bound payload (the route's command): what :meth:`Router.route` finds."""

    route: Route
    command: Any


class _NoTransaction:
    """For routers without a store: no journal, nothing to commit."""

    inbound = None

    def __enter__(self) -> _NoTransaction:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        return None

    def commit(self) -> None:
        return None


class Router:
    """Routes 61968-100 requests and events to handlers; every call returns reply bytes."""

    def __init__(self, routes: Mapping[RouteKey, Route], *, codec: Codec | None = None,
                 source: str = "evgrid", unit_of_work: Callable[[], UnitOfWork] | None = None,
                 unavailable: Callable[[BaseException], bool] = _never) -> None:
        """``unavailable`` tells a store outage from a bug: an outage is answered as one (5.0, try again)."""
        self.unavailable = unavailable
        self.routes = dict(routes)
        self.codec = codec or Codec()
        self.source = source
        self.unit_of_work: Callable[[], Any] = unit_of_work or _NoTransaction

    def route(self, inbound: Inbound) -> Routed:
        """Find the route of a decoded message and bind its payload (a :class:`Routed`, a pair).

        Once per message: whoever routes first hands the :class:`Routed` on
        (:meth:`handle_inbound`). Binding to a CIM class (xsdata) empties the element it
        reads, so it reads a copy: the payload stays as it came, for the journal's digest.
        """
        header = inbound.header
        if header is None or inbound.kind in (MessageKind.RESPONSE, MessageKind.FAULT):
            raise UnsupportedOperation("only request and event messages are accepted here")
        route = self.routes.get((header.verb, header.noun))
        if route is None:
            raise UnsupportedOperation(f"no operation '{header.verb.value} {header.noun}' here")
        if header.message_id and len(header.message_id) > MESSAGE_ID_MAX:
            raise InvalidParameter(f"MessageID is {len(header.message_id)} characters long; at most "
                                   f"{MESSAGE_ID_MAX} are kept")
        if route.payload is None:
            return Routed(route, None)
        if inbound.payload is None:
            raise MissingElement(f"'{header.verb.value} {header.noun}' needs a payload")
        if inbound.payload.tag != route.payload:
            found = etree.QName(inbound.payload)
            raise UnsupportedOperation(
                f"payload {found.localname} ({found.namespace}) does not match noun {header.noun}"
            )
        for mrid in inbound.payload.iter("{*}mRID"):
            if mrid.text and len(mrid.text.strip()) > MRID_MAX:
                raise InvalidParameter(f"mRID {mrid.text.strip()[:20]}... is {len(mrid.text.strip())} characters "
                                       f"long; at most {MRID_MAX} are kept", details=mrid.text.strip()[:MRID_MAX])
        if route.cim_class is not None:
            return Routed(route, route.bind(self.codec.bind(copy.deepcopy(inbound.payload), route.cim_class)))
        return Routed(route, route.bind(inbound.payload))

    def handle(self, data: bytes | str, *, sender: str | None = None, raise_unexpected: bool = False) -> bytes:
        """Answer one message with a valid reply; by default it never raises.

        ``sender`` is the authenticated caller, when a binding knows it (the SOAP user):
        a stored reply is only ever returned to the sender that caused it, so a MessageID
        learnt from elsewhere reveals nothing.

        ``raise_unexpected``: let exceptions that are not :class:`~evgrid.errors.AdapterError`
        propagate instead of answering them: for bindings that can try the message again
        later (the ESB leaves it on its queue while the database is down). Trying again is
        safe: a MessageID whose changes were committed gets its stored reply.
        """
        try:
            inbound = self.codec.decode(data)
        except AdapterError as error:
            failure = error
        except Exception as error:  # the router is the boundary: log it, leak nothing
            if raise_unexpected:
                raise
            return self._answer_unexpected(error, None)
        else:
            return self.handle_inbound(inbound, sender=sender, raise_unexpected=raise_unexpected)
        return self._answer_failure(failure, None, sender, raise_unexpected)

    def handle_inbound(self, inbound: Inbound, *, sender: str | None = None, routed: tuple[Route, Any] | None = None,
                       raise_unexpected: bool = False) -> bytes:
        """:meth:`handle` for a message already decoded and validated by the codec; never decoded again.

        ``routed``: what :meth:`route` returned for ``inbound``, if the caller needed it first
        (the SOAP endpoint's authorization reads the bound payload): the handler gets that
        same command, and the payload is not bound again. Without it, it is routed here.
        Replies, journal and errors are :meth:`handle`'s.
        """
        digest = _Digest(inbound)
        try:
            route, command = self.route(inbound) if routed is None else routed
            return self._apply(route, command, inbound, sender, digest)
        except AdapterError as error:
            failure = error
        except Exception as error:  # the router is the boundary: log it, leak nothing
            if raise_unexpected:
                raise
            return self._answer_unexpected(error, inbound)
        return self._answer_failure(failure, inbound, sender, raise_unexpected, digest)

    def _answer_unexpected(self, error: Exception, inbound: Inbound | None) -> bytes:
        """The reply to what is not an AdapterError (called while handling it: the traceback is logged)."""
        if self.unavailable(error):  # an outage, not a bug: one line, and a reply that says so
            log.warning("message not processed, the database is unavailable: %s", type(error).__name__)
            return self.codec.dump(self._failed(AdapterError(UNAVAILABLE), inbound))
        log.exception("unexpected error while handling a message")
        return self.codec.dump(self._failed(AdapterError("internal error; the message was not processed"), inbound))

    def _answer_failure(self, failure: AdapterError, inbound: Inbound | None, sender: str | None,
                        raise_unexpected: bool, digest: _Digest | None = None) -> bytes:
        """The FAILED reply to an AdapterError, remembered under the MessageID when it can be.

        A transient failure (a peer the handler needed was down) is answered, not remembered:
        the sender's retry of the same message is then handled afresh.
        """
        if failure.transient:
            log.warning("message not processed, to be sent again: %s", failure.reason)
            return self.codec.dump(self._failed(failure, inbound))
        try:
            return self._remember_failure(failure, inbound, sender, digest)
        except Exception:  # remembering needs the store, which may be what failed
            if raise_unexpected:
                raise
            # The failure still stands: answer it, unstored (a replay is judged afresh).
            log.exception("could not store the reply to a failed message")
            return self.codec.dump(self._failed(failure, inbound))

    def _apply(self, route: Route, command: Any, inbound: Inbound, sender: str | None, digest: _Digest) -> bytes:
        header = inbound.header
        assert header is not None
        with self.unit_of_work() as uow:
            if uow.inbound is not None and header.message_id:
                stored = self._stored_reply(uow, header.message_id, sender, inbound, digest)
                if stored is not None:
                    return stored  # the transaction is rolled back: a refused reuse changes nothing
            outcome = route.handle(command, header, uow)
            reply = self._reply(outcome, header)
            if uow.inbound is not None and header.message_id:
                uow.inbound.remember(header.message_id, header.verb.value, header.noun, sender or header.source,
                                     reply, digest.value)
            uow.commit()
        return reply

    def _reply(self, outcome: Outcome, header: Header) -> bytes:
        """The reply to a handled message (a router may write some of them itself: the same bytes, faster).

        Written directly (:func:`evgrid.mappings.writers.reply`, the codec's bytes) when the
        payload is written XML or there is none; a payload of generated classes goes to the codec.
        """
        if all(type(item) is Written for item in outcome.payload):
            return writers.reply(outcome.result, outcome.noun or header.noun, outcome.payload,  # type: ignore[arg-type]
                                 source=self.source, correlation_id=header.message_id, errors=outcome.errors)
        return self.codec.dump(env.reply(
            outcome.result, outcome.noun or header.noun, *outcome.payload, source=self.source,
            correlation_id=header.message_id, errors=outcome.errors,
        ))

    def _stored_reply(self, uow: Any, message_id: str, sender: str | None, inbound: Inbound,
                      digest: _Digest) -> bytes | None:
        """The reply to a MessageID seen before: its stored reply if this is the same message, else a refusal.

        None for a new MessageID. A refusal is answered, never stored: the first message
        keeps its MessageID and its reply.
        """
        stored = uow.inbound.reply_for(message_id)
        if stored is None:
            return None
        first_sender, reply, verb, noun, first_digest = stored
        if sender is not None and first_sender != sender:
            return self.codec.dump(self._failed(
                SecurityRejected(f"MessageID {message_id} was already used by another sender"), inbound))
        header = inbound.header
        assert header is not None
        if (verb, noun) != (header.verb.value, header.noun):
            refusal = MessageIdReused(f"MessageID {message_id} was already used for a different message "
                                      f"('{header.verb.value} {header.noun}' now, '{verb} {noun}' before); "
                                      f"nothing was changed: send this message with a new MessageID")
        elif first_digest is not None and first_digest != digest.value:  # None: journaled before digests
            refusal = MessageIdReused(f"MessageID {message_id} was already used for a different "
                                      f"'{verb} {noun}' message (another payload); nothing was changed: "
                                      f"send this message with a new MessageID")
        else:
            return bytes(reply)
        log.warning("MessageID %s reused for another message: refused", message_id)
        return self.codec.dump(self._failed(refusal, inbound))

    def _remember_failure(self, error: AdapterError, inbound: Inbound | None, sender: str | None = None,
                          digest: _Digest | None = None) -> bytes:
        """A FAILED reply; with a MessageID it is kept too, so a replay gets the same answer."""
        reply = self.codec.dump(self._failed(error, inbound))
        header = inbound.header if inbound else None
        if inbound is None or header is None or not header.message_id or len(header.message_id) > MESSAGE_ID_MAX:
            return reply  # nothing to remember it by (or an id too long to keep)
        digest = digest or _Digest(inbound)
        with self.unit_of_work() as uow:
            if uow.inbound is None:
                return reply
            stored = self._stored_reply(uow, header.message_id, sender, inbound, digest)
            if stored is not None:  # seen before: the first reply stands (or this reuse is refused)
                return stored
            uow.inbound.remember(header.message_id, header.verb.value, header.noun, sender or header.source, reply,
                                 digest.value)
            uow.commit()
        return reply

    def _failed(self, error: AdapterError, inbound: Inbound | None) -> object:
        header = inbound.header if inbound else None
        return env.reply_failed(
            error, noun=header.noun if header else None, source=self.source,
            correlation_id=header.message_id if header else None,
        )
