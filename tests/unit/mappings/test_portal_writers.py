"""What a portal sends, written directly, is the codec's (xsdata's) bytes, byte for byte, and valid.

Each case comes from a seed: mRIDs and names with ``& < > " '``, tabs, line feeds and
carriage returns and other alphabets, times in other zones and with fractions of a second,
powers such as 7.4, 11, 3.7 or 0.0005 kW, zero to four registers and intervals, every
completion reason, a third-party owner with and without a customer.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from evgrid.cim import envelope as env
from evgrid.cim.codec import Codec
from evgrid.cim.generated import ev_charging as ev
from evgrid.mappings import codes, portal_writers
from evgrid.mappings import portal as mapping
from evgrid.operations.metering import Interval, Register
from evgrid.portal.model import Completed, PlugIn, Site

CODEC = Codec()
CASES = range(40)
ZONES = (UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30)), ZoneInfo("Europe/Amsterdam"))
TEXT = ("S-00042", 'A & B <"x"> \'y\'', "tab\there, line\nfeed, return\r end", "Zähler-€ 夜", "]]> and &amp;", "x")
MRID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_:.&<>\"'é€夜"
POWERS = (7.4, 11.0, 3.7, 22, 0.0005, 7.2004, 1e1)
STAMP = datetime(2026, 12, 7, 22, 9, 36, 120000, tzinfo=UTC)


def text(rng: random.Random) -> str:
    """Free text (a reason): white space and markup characters anywhere."""
    return rng.choice(TEXT) + str(rng.randrange(1000))


def mrid(rng: random.Random) -> str:
    """A schema-valid mRID: markup characters, no white space."""
    return "".join(rng.choice(MRID_CHARS) for _ in range(rng.choice((1, 4, 12, 40))))


def moment(rng: random.Random) -> datetime:
    at = datetime(2026, 1, 15, 21, tzinfo=UTC) + timedelta(minutes=rng.randrange(0, 600))
    at = at.replace(microsecond=rng.choice((0, 0, 120000, 123456, 1000, 999999)))
    return at.astimezone(rng.choice(ZONES))


def site(rng: random.Random) -> Site:
    return Site(mrid(rng), mrid(rng), mrid(rng), mrid(rng), mrid(rng), mrid(rng), rng.choice(POWERS))


def completed(rng: random.Random) -> Completed:
    start = moment(rng)
    return Completed(mrid(rng), mrid(rng), start, start + timedelta(minutes=rng.randrange(0, 300)),
                     rng.randrange(0, 10**6), rng.randrange(10**6, 2 * 10**6), rng.choice([r.value for r in ev.CompletionReason]))


def codec_message(verb: env.Verb, noun: str, payload: object, the_site: Site, message_id: str) -> bytes:
    build = env.request if verb in env.REQUEST_VERBS else env.event
    return CODEC.dump(build(verb, noun, payload, source=f"portal-{the_site.premise_number}", message_id=message_id,
                            timestamp=STAMP))


def same(written: bytes, expected: bytes) -> None:
    assert written == expected
    CODEC.decode(written)  # schema-valid


@pytest.mark.parametrize("seed", CASES)
def test_charging_request_is_the_codecs_bytes(seed: int) -> None:
    rng = random.Random(seed)
    the_site = site(rng)
    plugged = moment(rng)
    plug = PlugIn(request_mrid=mrid(rng), ev_id=mrid(rng), plugged_in_utc=plugged, departure_utc=moment(rng),
                  requested_wh=rng.randrange(1, 10**5), ev_max_power_kw=rng.choice(POWERS))
    same(portal_writers.charging_request(the_site, plug, "ChargingRequest:1", STAMP),
         codec_message(env.Verb.CREATE, "ChargingRequest", mapping.charging_request_to_cim(the_site, plug), the_site,
                       "ChargingRequest:1"))


@pytest.mark.parametrize("seed", CASES)
def test_readings_are_the_codecs_bytes(seed: int) -> None:
    rng = random.Random(seed)
    the_site = site(rng)
    registers = [Register(moment(rng), rng.randrange(0, 10**7)) for _ in range(rng.choice((0, 1, 2, 2, 4)))]
    intervals = [Interval(moment(rng), rng.randrange(0, 10**4)) for _ in range(rng.choice((0, 0, 1, 3)))]
    written = portal_writers.readings(the_site, registers, intervals, "MeterReadings:S-1:start", STAMP)
    expected = codec_message(env.Verb.CREATED, "MeterReadings", mapping.readings_to_cim(the_site, registers, intervals),
                             the_site, "MeterReadings:S-1:start")
    assert written == expected
    if registers:  # the schema wants at least one reading in a MeterReading
        CODEC.decode(written)


@pytest.mark.parametrize("seed", CASES)
def test_device_events_are_the_codecs_bytes(seed: int) -> None:
    rng = random.Random(seed)
    the_site = site(rng)
    code = rng.choice((codes.EV_PLUGGED_IN, codes.EV_CHARGING_COMPLETE, codes.EV_UNPLUGGED))
    ev_id, at, event_mrid, reason = mrid(rng), moment(rng), mrid(rng), text(rng)
    same(portal_writers.device_event(the_site, code, ev_id, at, event_mrid, reason, "EndDeviceEvents:1", STAMP),
         codec_message(env.Verb.CREATED, "EndDeviceEvents",
                       mapping.device_event_to_cim(the_site, code, ev_id, at, event_mrid, reason), the_site,
                       "EndDeviceEvents:1"))


@pytest.mark.parametrize("seed", CASES)
def test_completion_and_usage_assignment_are_the_codecs_bytes(seed: int) -> None:
    rng = random.Random(seed)
    the_site, done = site(rng), completed(rng)
    same(portal_writers.completion(the_site, done, "ChargingCompletion:1", STAMP),
         codec_message(env.Verb.CREATED, "ChargingCompletion", mapping.completion_to_cim(the_site, done), the_site,
                       "ChargingCompletion:1"))
    owner, customer = mrid(rng), rng.choice((None, mrid(rng)))
    same(portal_writers.usage_assignment(the_site, done, owner, customer, "UsageAssignment:1", STAMP),
         codec_message(env.Verb.CREATED, "UsageAssignment",
                       mapping.usage_assignment_to_cim(the_site, done, owner, customer), the_site, "UsageAssignment:1"))


def test_an_unknown_reason_is_refused_as_the_generated_enum_refuses_it() -> None:
    done = Completed("S-1", "EV-1", STAMP, STAMP, 0, 1, "fullish")
    with pytest.raises(ValueError):
        mapping.completion_to_cim(site(random.Random(1)), done)
    with pytest.raises(ValueError):
        portal_writers.completion(site(random.Random(1)), done, "ChargingCompletion:1")


@pytest.mark.parametrize("character", ["\x00", "\x1f", "\ufffe"])
def test_what_xml_cannot_carry_is_refused_as_the_codec_refuses_it(character: str) -> None:
    the_site = Site("S" + character, "M", "C", "A", "UP", "P", 11.0)
    with pytest.raises(ValueError):
        CODEC.dump(env.event(env.Verb.CREATED, "EndDeviceEvents", mapping.device_event_to_cim(
            the_site, codes.EV_PLUGGED_IN, "EV", STAMP, "m", "r"), source="p"))
    with pytest.raises(ValueError):
        portal_writers.device_event(the_site, codes.EV_PLUGGED_IN, "EV", STAMP, "m", "r", "EndDeviceEvents:1")
