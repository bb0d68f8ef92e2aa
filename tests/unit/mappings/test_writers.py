"""The messages written directly are the codec's (xsdata's) bytes, byte for byte, and valid.

Each case is generated from a seed: home or third party, OK or PARTIAL, one slot or sixty,
slots without power, powers and prices such as 7.4, 11.0, 3.700 or 7 (a float too), mRIDs
of 62 characters, names with ``& < > " '``, tabs, line feeds and carriage returns, other
alphabets, times in other zones and with fractions of a second, estimated interval counts
present and absent. The writer's bytes must equal ``Codec.dump`` of the generated classes
the mapping functions build, with the same header (Timestamp and MessageID, fixed or read
back from the codec's message), and every message must pass ``Codec.decode`` (schemas).
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from lxml import etree

from evgrid.cim import envelope as env
from evgrid.cim import namespaces as ns
from evgrid.cim.codec import Codec, Header, MessageKind
from evgrid.errors import MappingError
from evgrid.mappings import codes, writers
from evgrid.mappings import ev_charging as mapping
from evgrid.mappings.outbound import render
from evgrid.messaging import routes
from evgrid.messaging.router import Outcome, Router
from evgrid.operations import events, handlers
from evgrid.operations.model import (
    ChargingKind,
    ChargingRequest,
    IntervalBlock,
    MeterReadingSet,
    Rate,
    RegisterReading,
    Tariff,
)
from evgrid.operations.ports import Allotment
from evgrid.operations.rates import ChargeLine, PricedWindow, windows
from evgrid.operations.session import Session, SessionState
from tests.unit.operations.fakes import PEAK, TARIFF, FakeUnitOfWork

CODEC = Codec()
SOURCE = "evgrid-evos"
CASES = range(60)
_MSG = "{" + ns.MESSAGE + "}"
ZONES = (UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30)), ZoneInfo("Europe/Amsterdam"),
         ZoneInfo("America/New_York"))
POWERS = (Decimal("7.4"), Decimal("11.0"), Decimal("3.700"), Decimal("7.2"), Decimal("22"), Decimal("0.8"),
          Decimal("0.0005"), Decimal("7.2004"), Decimal("1E+1"), 7, 7.4, 3.7)
PRICES = (Decimal("0.310000"), Decimal("0.28"), Decimal("0.09"), Decimal("1.5"), Decimal("12"), Decimal("0.000001"),
          Decimal("0E-6"), Decimal("2.5E+1"))
NAMES = ("Residential time-of-use", 'A & B <"night"> \'rate\'', "tab\there, line\nfeed, return\r end", "Zähler-€ 夜",
         "", "  spaced  ", "]]> and &amp;")
MRID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_:.&<>\"'é€"


# ------------------------------------------------------------------ cases
def mrid(rng: random.Random, prefix: str, longest: int = 62) -> str:
    """A schema-valid mRID: no white space at either end, at most 62 characters (what the store keeps)."""
    length = rng.choice((1, 4, 12, longest - len(prefix)))
    return (prefix + "".join(rng.choice(MRID_CHARS) for _ in range(length)))[:longest]


def moment(rng: random.Random, base: datetime = datetime(2026, 11, 26, 17, tzinfo=UTC)) -> datetime:
    """An aware time near ``base`` in one of several zones, sometimes with a fraction of a second."""
    at = base + timedelta(minutes=rng.randrange(0, 24 * 60))
    at = at.replace(microsecond=rng.choice((0, 0, 120000, 123456, 1000, 999999, 500)))
    return at.astimezone(rng.choice(ZONES))


def session(rng: random.Random, **changes: object) -> Session:
    kind = rng.choice((ChargingKind.HOME, ChargingKind.THIRD_PARTY))
    plugged = moment(rng)
    owner = mrid(rng, "A-")
    values: dict[str, object] = {
        "session_id": mrid(rng, "S-"), "request_mrid": mrid(rng, "R-"), "ev_id": mrid(rng, "EV-"),
        "station_id": mrid(rng, "EVSE-"), "premise_number": mrid(rng, "P-"), "meter_number": mrid(rng, "M-"),
        "transformer_id": mrid(rng, "T-"), "owner_account_id": owner,
        "host_account_id": owner if kind is ChargingKind.HOME else mrid(rng, "A-"), "kind": kind,
        "state": SessionState.SCHEDULED, "requested_wh": rng.choice((1, 8_000, 20_000, 24_000, 10**7)),
        "max_power_kw": rng.choice(POWERS[:6]), "plugged_in_utc": plugged,
        "departure_utc": plugged + timedelta(hours=rng.choice((1, 13, 20)), seconds=rng.choice((0, 1))),
        "tariff_id": rng.choice((None, mrid(rng, "T-"), TARIFF.tariff_id)),
        "rate": rng.choice(tuple(Rate)),
    }
    values["reachable_wh"] = rng.choice((None, 0, values["requested_wh"], values["requested_wh"] // 2))  # type: ignore[operator]
    values.update(changes)
    return Session(**values)  # type: ignore[arg-type]


def tariff(rng: random.Random) -> Tariff:
    # A tariff's id, ":" and a rate name make a PricingStructure's mRID (at most 64 characters).
    return rng.choice((TARIFF, PEAK, replace(TARIFF, tariff_id=mrid(rng, "T-", 48), name=rng.choice(NAMES),
                                             currency=rng.choice(("EUR", "GBP")))))


def priced(rng: random.Random, count: int | None = None) -> tuple[PricedWindow, ...]:
    start = moment(rng)
    found = []
    for sequence in range(1, (count if count is not None else rng.randrange(1, 6)) + 1):
        end = start + timedelta(minutes=rng.choice((15, 90, 600)))
        found.append(PricedWindow(sequence, rng.choice(NAMES), start, end, rng.choice(PRICES), rng.random() < 0.5))
        start = end
    return tuple(found)


def allotment(rng: random.Random, the_session: Session) -> Allotment:
    minutes = rng.choice((15, 15, 5, 60))
    start = moment(rng).replace(second=0, microsecond=0)
    count = rng.choice((1, 3, 12, 52, 60))
    slots = tuple((start + timedelta(minutes=minutes * i), rng.choice((*POWERS, 0, Decimal(0), Decimal("0.000"))))
                  for i in range(count))
    if not any(kw > 0 for _, kw in slots):
        slots += ((start + timedelta(minutes=minutes * count), Decimal("7.4")),)
    return Allotment(the_session.session_id, the_session.transformer_id, slots, minutes, rng.randrange(0, 10**6))


def confirmation(rng: random.Random) -> handlers.Confirmation:
    the_session = session(rng)
    the_tariff = tariff(rng)
    return handlers.Confirmation(the_session, rng.choice(POWERS), allotment(rng, the_session), the_tariff,
                                 priced(rng), rng.choice((None, mrid(rng, "C-"))))


def fixed_header(rng: random.Random) -> tuple[datetime, str]:
    return moment(rng), rng.choice(("m-1", "8a4f3db0-6749-4e76-a98a-3c4f0487ad9d", mrid(rng, "M-")))


def cim_payload(the_confirmation: handlers.Confirmation) -> tuple[object, ...]:
    """What the xsdata path puts in the reply (routes.request_charging_cim)."""
    the_session = the_confirmation.session
    return (mapping.confirmation_to_cim(the_confirmation), mapping.charging_type_to_cim(the_session),
            mapping.applicable_rate_to_cim(the_confirmation),
            mapping.allotment_to_cim(the_session, the_confirmation.allotment))


def codec_reply(result: env.Result, payload: tuple[object, ...], correlation_id: str | None,
                errors: tuple[env.ReplyDetail, ...]) -> tuple[bytes, datetime, str]:
    """The codec's reply, with the Timestamp and MessageID it chose (read back)."""
    written = CODEC.dump(env.reply(result, "ChargingRequest", *payload, source=SOURCE, correlation_id=correlation_id,
                                   errors=errors))
    header = etree.fromstring(written).find(_MSG + "Header")
    return (written, datetime.fromisoformat(header.findtext(_MSG + "Timestamp")),
            header.findtext(_MSG + "MessageID"))


# ------------------------------------------------------------ the reply
def partial_warning(the_confirmation: handlers.Confirmation) -> tuple[env.ReplyDetail, ...]:
    return routes._charging_outcome(the_confirmation, ()).errors


@pytest.mark.parametrize("seed", CASES)
def test_charging_reply_is_the_codecs_bytes(seed: int) -> None:
    rng = random.Random(seed)
    the_confirmation = confirmation(rng)
    errors = partial_warning(the_confirmation)
    result = env.Result.PARTIAL if errors else env.Result.OK
    correlation_id = rng.choice((None, "m-1", 'a&b<c>d"e', mrid(rng, "M-")))
    expected, timestamp, message_id = codec_reply(result, cim_payload(the_confirmation), correlation_id, errors)
    written = writers.reply(result, "ChargingRequest", writers.charging_reply_payload(the_confirmation),
                            source=SOURCE, correlation_id=correlation_id, errors=errors, timestamp=timestamp,
                            message_id=message_id)
    assert written == expected
    inbound = CODEC.decode(written)  # the schemas accept it
    assert inbound.kind is MessageKind.RESPONSE and inbound.result == result.value


def test_a_partial_reply_carries_its_warning() -> None:
    rng = random.Random(7)
    the_confirmation = confirmation(rng)
    the_confirmation = replace(the_confirmation, session=replace(the_confirmation.session, requested_wh=20_000,
                                                                 reachable_wh=12_000))
    outcome = routes._charging_outcome(the_confirmation, writers.charging_reply_payload(the_confirmation))
    assert outcome.result is env.Result.PARTIAL
    expected, timestamp, message_id = codec_reply(outcome.result, cim_payload(the_confirmation), "m-1", outcome.errors)
    written = writers.reply(outcome.result, "ChargingRequest", outcome.payload, source=SOURCE,  # type: ignore[arg-type]
                            correlation_id="m-1", errors=outcome.errors, timestamp=timestamp, message_id=message_id)
    assert written == expected
    assert b"<msg:Error><msg:code>0.1</msg:code><msg:level>WARNING</msg:level><msg:reason>only 12000 Wh" in written


@pytest.mark.parametrize("at", [
    datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 12, 7, 22, 9, 36, 120000, tzinfo=UTC),
    datetime(2026, 12, 7, 22, 9, 36, 123456, tzinfo=UTC), datetime(2026, 3, 29, 2, 30, 0, 1000, tzinfo=ZONES[3]),
    datetime(999, 5, 6, 7, 8, 9, 10, tzinfo=ZONES[2]),
])
def test_times_as_the_codec_writes_them(at: datetime) -> None:
    assert writers.xml_datetime(at) == str(mapping.xml_time(at)) == str(env.xml_now(at))


@pytest.mark.parametrize("errors", [
    (), (env.ReplyDetail("0.1", env.Level.WARNING, "a & b < c"),),
    (env.ReplyDetail("2.6", env.Level.FATAL, "", "details\r\nhere"), env.ReplyDetail("0.3", env.Level.INFORM, "x", "")),
])
@pytest.mark.parametrize("result", list(env.Result))
def test_payloadless_replies_are_the_codecs_bytes(result: env.Result, errors: tuple[env.ReplyDetail, ...]) -> None:
    expected = CODEC.dump(env.ResponseMessage(
        header=env.header(env.Verb.REPLY, "MeterReadings", source="", message_id="m-2", correlation_id="",
                          timestamp=datetime(2026, 12, 7, 22, 9, 36, 120000, tzinfo=UTC)),
        reply=env.ReplyType(result=result, error=[
            env.ErrorType(code=e.code, level=e.level, reason=e.reason or None, details=e.details) for e in errors])))
    assert writers.reply(result, "MeterReadings", source="", correlation_id="", errors=errors,
                         timestamp=datetime(2026, 12, 7, 22, 9, 36, 120000, tzinfo=UTC), message_id="m-2") == expected


def test_the_route_answers_with_written_xml_and_the_router_writes_the_codecs_reply() -> None:
    """The ChargingRequest route's written payload, through Router._reply, is what the xsdata route gives."""
    def outcome_of(handle: object) -> Outcome:
        uow = FakeUnitOfWork()
        command = ChargingRequest(
            request_mrid="R-1", ev_id="EV-A", station_id="EVSE-A", customer_id="C-A", usage_point_id="UP-A",
            premise_number="P-A", requested_wh=3_000, departure_utc=uow.now + timedelta(hours=13),
            max_power_kw=Decimal("11"), plugged_in_utc=uow.now)
        with uow:
            return handle(command, Header(env.Verb.CREATE, "ChargingRequest", "m-1"), uow)  # type: ignore[operator]

    written, built = outcome_of(routes._request_charging), outcome_of(routes.request_charging_cim)
    assert all(isinstance(item, writers.Written) for item in written.payload) and written.payload
    router = Router(routes.ROUTES, codec=CODEC, source=SOURCE)
    header = Header(env.Verb.CREATE, "ChargingRequest", "m-1")
    reply = router._reply(written, header)
    assert CODEC.decode(reply).result == "OK"
    sent = etree.fromstring(reply).find(_MSG + "Header")
    expected = CODEC.dump(env.ResponseMessage(
        header=env.header(env.Verb.REPLY, "ChargingRequest", source=SOURCE, correlation_id="m-1",
                          message_id=sent.findtext(_MSG + "MessageID"),
                          timestamp=datetime.fromisoformat(sent.findtext(_MSG + "Timestamp"))),
        reply=env.ReplyType(result=built.result), payload=env.PayloadType(other_element=list(built.payload))))
    assert reply == expected
    # A payload of generated classes is still the codec's.
    assert CODEC.decode(router._reply(built, header)).result == "OK"


def test_no_rate_and_no_powered_slot_are_refused_as_the_mappings_refuse_them() -> None:
    rng = random.Random(3)
    the_confirmation = confirmation(rng)
    unrated = replace(the_confirmation, tariff=None)
    with pytest.raises(MappingError, match="no applicable rate"):
        writers.applicable_rate(unrated)
    with pytest.raises(MappingError, match="no applicable rate"):
        mapping.applicable_rate_to_cim(unrated)
    idle = replace(the_confirmation.allotment, slots=((datetime(2026, 11, 26, 22, tzinfo=UTC), Decimal(0)),))
    with pytest.raises(MappingError, match="no slot with power"):
        writers.allotment(the_confirmation.session, idle)
    with pytest.raises(MappingError, match="no slot with power"):
        mapping.allotment_to_cim(the_confirmation.session, idle)


@pytest.mark.parametrize("character", ["\x00", "\x01", "\x1f", "\ufffe", "\uffff", "\ud800"])
def test_what_xml_cannot_carry_is_refused_as_the_codec_refuses_it(character: str) -> None:
    the_session = replace(session(random.Random(1)), session_id=f"S-{character}")
    with pytest.raises(ValueError, match="XML compatible|surrogates"):
        render(events.SwitchStation(the_session, True), CODEC, source=SOURCE)
    with pytest.raises(ValueError, match="XML compatible|surrogates"):
        render(events.SwitchStation(the_session, True), CODEC, source=SOURCE, written=False)


@pytest.mark.parametrize("character", ["\x7f", "\x85", "\u2028", "\U0001f50c"])
def test_what_xml_can_carry_is_written_as_the_codec_writes_it(character: str) -> None:
    event = events.SwitchStation(replace(session(random.Random(2)), session_id=f"S-{character}"), False)
    now = datetime(2026, 12, 7, tzinfo=UTC)
    assert render(event, CODEC, source=SOURCE, now=now) == render(event, CODEC, source=SOURCE, now=now, written=False)


# ------------------------------------------------------- outbound events
def readings(rng: random.Random) -> MeterReadingSet:
    meters = [(mrid(rng, "M-"), rng.choice((None, "", mrid(rng, "UP-")))) for _ in range(rng.randrange(1, 4))]
    registers = tuple(RegisterReading(*rng.choice(meters), codes.REGISTER_WH, moment(rng), rng.randrange(0, 10**9))
                      for _ in range(rng.randrange(0, 4)))
    blocks = tuple(IntervalBlock(*rng.choice(meters), codes.INTERVAL_15MIN_WH,
                                 tuple((moment(rng), rng.randrange(0, 5_000)) for _ in range(rng.choice((1, 4, 96)))))
                   for _ in range(rng.randrange(0 if registers else 1, 3)))
    return MeterReadingSet(registers=registers, intervals=blocks)


def bill(rng: random.Random) -> events.BillInformation:
    lines = []
    for _ in range(rng.randrange(1, 4)):
        intervals = rng.choice((0, 1, 12, 96))
        estimated = rng.randrange(0, intervals + 1) if intervals else 0
        price = rng.choice(PRICES)
        energy = rng.randrange(0, 30_000)
        lines.append(ChargeLine(rng.choice(NAMES), energy, price, (price * energy / 1000).quantize(Decimal("0.01")),
                                intervals, estimated))
    return events.BillInformation(
        mrid(rng, "B-"), mrid(rng, "S-"), mrid(rng, "A-"), rng.choice(("EUR", "GBP")), tuple(lines),
        sum(line.energy_wh for line in lines), sum((line.amount for line in lines), Decimal(0)), moment(rng))


def outbound_event(rng: random.Random, kind: str) -> object:
    the_session = session(rng)
    if kind == "allotment":
        return events.SlotAllotted(the_session, allotment(rng, the_session))
    if kind in ("start", "stop"):
        start = rng.choice((None, moment(rng)))
        end = rng.choice((None, start + timedelta(hours=3))) if start else None
        return events.SwitchStation(replace(the_session, planned_start_utc=start, planned_end_utc=end), kind == "start")
    if kind == "third_party":
        return events.ThirdPartyRecorded(replace(the_session, kind=ChargingKind.THIRD_PARTY), mrid(rng, "C-"),
                                         mrid(rng, "C-"), mrid(rng, "UP-"))
    if kind == "consumption":
        started = rng.choice((None, the_session.plugged_in_utc + timedelta(minutes=5)))
        completed = rng.choice((None, the_session.plugged_in_utc + timedelta(hours=3, microseconds=120000)))
        the_session = replace(the_session, started_utc=started, completed_utc=completed,
                              consumed_wh=rng.choice((None, 0, 18_500)))
        the_tariff = tariff(rng)
        if rng.random() < 0.5:
            the_windows = tuple(windows(the_tariff, the_session.kind, the_session.plugged_in_utc,
                                        the_session.plugged_in_utc + timedelta(hours=14), the_session.rate))
        else:
            the_windows = priced(rng)
        return events.ConsumptionForBilling(the_session, the_tariff, the_windows,
                                            rate=rng.choice((None, *Rate)),
                                            usage_point_id=rng.choice((None, mrid(rng, "UP-"))))
    if kind == "bill":
        return bill(rng)
    if kind == "acknowledgment":
        return events.SessionAcknowledged(mrid(rng, "S-"), mrid(rng, "B-"), mrid(rng, "A-"))
    if kind == "readings":
        return events.ReadingsForMdm(readings(rng), rng.choice(("r-1", mrid(rng, "MR-"))))
    raise AssertionError(kind)


KINDS = ("allotment", "start", "stop", "third_party", "consumption", "bill", "acknowledgment", "readings")


@pytest.mark.parametrize("seed", range(25))
@pytest.mark.parametrize("kind", KINDS)
def test_outbound_messages_are_the_codecs_bytes(kind: str, seed: int) -> None:
    rng = random.Random(f"{kind}-{seed}")
    event = outbound_event(rng, kind)
    now = moment(rng)
    owner_premise, source = mrid(rng, "P-"), rng.choice((SOURCE, "", "a&b"))
    written = render(event, CODEC, source=source, owner_premise=owner_premise, now=now)
    built = render(event, CODEC, source=source, owner_premise=owner_premise, now=now, written=False)
    assert written == built
    inbound = CODEC.decode(written.body)  # the schemas accept it
    assert inbound.header is not None and inbound.header.noun == written.noun
    assert inbound.header.message_id == written.message_id


def test_outbound_without_a_time_is_stamped_now() -> None:
    event = outbound_event(random.Random(5), "allotment")
    before = datetime.now(UTC)
    header = CODEC.decode(render(event, CODEC, source=SOURCE).body).header
    assert header is not None and before - timedelta(seconds=1) <= datetime.fromisoformat(header.timestamp or "")
    assert datetime.fromisoformat(header.timestamp or "") <= datetime.now(UTC)


def test_consumption_without_windows_is_still_the_codecs_bytes() -> None:
    """Not schema-valid (a Tariff needs a TimeTariffInterval), but the same bytes either way."""
    the_session = session(random.Random(11))
    event = events.ConsumptionForBilling(the_session, TARIFF, ())
    now = datetime(2026, 12, 7, tzinfo=UTC)
    assert render(event, CODEC, source=SOURCE, now=now) == render(event, CODEC, source=SOURCE, now=now, written=False)


def test_empty_readings_are_the_codecs_bytes() -> None:
    event = events.ReadingsForMdm(MeterReadingSet(registers=(), intervals=()), "r-0")
    now = datetime(2026, 12, 7, tzinfo=UTC)
    assert render(event, CODEC, source=SOURCE, now=now) == render(event, CODEC, source=SOURCE, now=now, written=False)
