"""IEC 61968-100 envelopes: verbs, results, levels and the builders of every message kind.

The builders return the generated (xsdata) dataclasses; :mod:`evgrid.cim.codec` turns
them into bytes or lxml elements. Every reply evgrid sends, successful or not, is built
here, so every reply has the same, schema-valid shape.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from xsdata.models.datatype import XmlDateTime

from evgrid.cim.generated.message import (
    ErrorType,
    EventMessage,
    HeaderType,
    LevelType,
    PayloadType,
    ReplyType,
    RequestMessage,
    ResponseMessage,
    ResultType,
    UserType,
    VerbType,
)
from evgrid.errors import AdapterError

Verb = VerbType
Result = ResultType
Level = LevelType

# Verbs that ask for something; their past tense announces it (IEC 61968-100, 5.4).
REQUEST_VERBS = frozenset(
    {Verb.CREATE, Verb.CHANGE, Verb.CANCEL, Verb.CLOSE, Verb.DELETE, Verb.GET, Verb.EXECUTE}
)
EVENT_VERBS = frozenset(
    {Verb.CREATED, Verb.CHANGED, Verb.CANCELED, Verb.CLOSED, Verb.DELETED, Verb.EXECUTED}
)

UNKNOWN_NOUN = "Unknown"


@dataclass(frozen=True, slots=True)
class ReplyDetail:
    """One Reply.Error, a warning or an error: ``code`` is ``category.detail`` (IEC 61968-100, Annex B)."""

    code: str
    level: Level = Level.FATAL
    reason: str = ""
    details: str | None = None

    @classmethod
    def from_exception(cls, error: AdapterError) -> ReplyDetail:
        """The error an :class:`~evgrid.errors.AdapterError` is answered with."""
        return cls(code=error.code, level=Level(error.level), reason=error.reason, details=error.details)


def new_message_id() -> str:
    """A fresh MessageID (a UUID, as IEC 61968-100 recommends)."""
    return str(uuid.uuid4())


def xml_now(now: datetime | None = None) -> XmlDateTime:
    """An aware UTC timestamp as xsdata's XmlDateTime."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return XmlDateTime.from_datetime(moment)


def header(
    verb: Verb,
    noun: str,
    *,
    source: str,
    message_id: str | None = None,
    correlation_id: str | None = None,
    timestamp: datetime | None = None,
    reply_address: str | None = None,
    user_id: str | None = None,
    organization: str | None = None,
) -> HeaderType:
    """A 61968-100 Header; MessageID and Timestamp are filled in when not given."""
    user = UserType(user_id=user_id, organization=organization) if user_id else None
    return HeaderType(
        verb=verb,
        noun=noun,
        timestamp=xml_now(timestamp),
        source=source,
        reply_address=reply_address,
        user=user,
        message_id=message_id or new_message_id(),
        correlation_id=correlation_id,
    )


def _payload(items: Iterable[object]) -> PayloadType | None:
    elements = list(items)
    return PayloadType(other_element=elements) if elements else None


def request(verb: Verb, noun: str, *payload: object, source: str, **fields: str | None) -> RequestMessage:
    """A RequestMessage (create, change, get, execute, ...) carrying ``payload``."""
    if verb not in REQUEST_VERBS:
        raise ValueError(f"{verb.value!r} is not a request verb")
    return RequestMessage(header=header(verb, noun, source=source, **fields), payload=_payload(payload))


def event(verb: Verb, noun: str, *payload: object, source: str, **fields: str | None) -> EventMessage:
    """An EventMessage (created, changed, ...) announcing ``payload``."""
    if verb not in EVENT_VERBS:
        raise ValueError(f"{verb.value!r} is not an event verb")
    return EventMessage(header=header(verb, noun, source=source, **fields), payload=_payload(payload))


def reply(
    result: Result,
    noun: str,
    *payload: object,
    source: str,
    correlation_id: str | None,
    errors: Iterable[ReplyDetail] = (),
) -> ResponseMessage:
    """A ResponseMessage answering the message whose MessageID is ``correlation_id``."""
    error_types = [
        ErrorType(code=e.code, level=e.level, reason=e.reason or None, details=e.details) for e in errors
    ]
    return ResponseMessage(
        header=header(Verb.REPLY, noun, source=source, correlation_id=correlation_id),
        reply=ReplyType(result=result, error=error_types),
        payload=_payload(payload),
    )


def reply_ok(noun: str, *payload: object, source: str, correlation_id: str | None) -> ResponseMessage:
    """An OK reply, optionally with a payload."""
    return reply(Result.OK, noun, *payload, source=source, correlation_id=correlation_id)


def reply_partial(
    noun: str, *payload: object, source: str, correlation_id: str | None, errors: Iterable[ReplyDetail]
) -> ResponseMessage:
    """A PARTIAL reply: done in part; ``errors`` say what was not."""
    return reply(Result.PARTIAL, noun, *payload, source=source, correlation_id=correlation_id, errors=errors)


def reply_failed(
    error: AdapterError | ReplyDetail,
    *,
    noun: str | None,
    source: str,
    correlation_id: str | None,
) -> ResponseMessage:
    """A FAILED reply with the error's 61968-100 code, level and a human reason."""
    detail = error if isinstance(error, ReplyDetail) else ReplyDetail.from_exception(error)
    return reply(
        Result.FAILED, noun or UNKNOWN_NOUN, source=source, correlation_id=correlation_id, errors=[detail]
    )
