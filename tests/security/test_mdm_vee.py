"""Bad meter data sent to the reference MDM: each refused with its code, nothing of it stored.

Every case is sent over SOAP to the served MDM (SQLite file, and PostgreSQL when
``EVGRID_DATABASE_URL`` is set) after the readings it is judged against. The FAILED
reply names the meter and the reading (its timestamp), carries the code of the error's
class (2.6 invalid parameter, 2.7 an unknown pairing, 2.5 not whole Wh, 1.0 missing),
and nothing of the message is stored, not even the valid MeterReadings beside the bad
one. The same message again gets the same answer; a valid message is stored after it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from evgrid.cim.codec import Codec
from evgrid.cim.generated import meter_readings as mr
from evgrid.errors import UpstreamFault
from evgrid.mappings import codes
from tests.integration.test_mdm import (  # noqa: F401 - database and mdm are fixtures
    METER,
    POINT,
    T0,
    Mdm,
    Q,
    database,
    day,
    mdm,
    meter_reading,
    readings_message,
    span,
)

codec = Codec()
MINUTE = timedelta(minutes=1)


def at(quarters: int) -> str:
    """How a reason writes the instant ``quarters`` quarter hours after T0."""
    return (T0 + quarters * Q).isoformat()


@dataclass(frozen=True)
class Case:
    """Readings stored first, then the bad MeterReading(s); the code and what the reason must name."""

    stored: tuple[mr.MeterReading, ...]
    bad: Callable[[], tuple[mr.MeterReading, ...]]
    code: str
    named: tuple[str, ...] = field(default=(METER,))


CASES = {
    "register_backwards_in_the_message": Case(
        (), lambda: (span((T0, 1_000), (T0 + 2 * Q, 900)),), "2.6", (METER, at(0), at(2), "backwards")),
    "register_below_the_last_stored": Case(
        (day(),), lambda: (span((T0 + 97 * Q, 1_009_000), (T0 + 98 * Q, 1_009_100), [100]),), "2.6",
        (METER, at(96), at(97), "backwards")),
    "register_above_the_next_stored": Case(
        (span((T0 + 4 * Q, 5_000), (T0 + 5 * Q, 5_100), [100]),),
        lambda: (span((T0, 4_000), (T0 + Q, 6_000), [2_000]),), "2.6", (METER, at(1), at(4), "backwards")),
    "register_conflicts_with_the_stored_one": Case(
        (span((T0, 0), (T0 + Q, 100), [100]),), lambda: (meter_reading([(T0 + Q, 150)]),), "2.6",
        (METER, at(1), "150 Wh", "100 Wh")),
    "intervals_not_summing_to_the_register_delta": Case(
        (), lambda: (span((T0, 0), (T0 + 2 * Q, 300), [100, 150]),), "2.6", (METER, at(0), at(2), "250 Wh")),
    "duplicate_interval_timestamps": Case(
        (), lambda: (meter_reading([(T0, 0), (T0 + 2 * Q, 300)], [(T0 + Q, 100), (T0 + Q, 100), (T0 + 2 * Q, 100)]),),
        "2.6", (METER, at(1), "twice")),
    "interval_outside_the_spans": Case(
        (), lambda: (meter_reading([(T0, 0), (T0 + Q, 100)], [(T0 + Q, 100), (T0 + 3 * Q, 50)]),), "2.6",
        (METER, at(3))),
    "partial_span": Case(
        (), lambda: (meter_reading([(T0, 0), (T0 + 3 * Q, 300)], [(T0 + Q, 100), (T0 + 2 * Q, 200)]),), "2.6",
        (METER, at(3), "lacks")),
    "intervals_with_a_single_register": Case(
        (), lambda: (meter_reading([(T0 + 2 * Q, 300)], [(T0 + Q, 100), (T0 + 2 * Q, 200)]),), "2.6", (METER, at(1))),
    "interval_off_a_boundary": Case(
        (), lambda: (meter_reading([(T0, 0), (T0 + Q, 100)], [(T0 + Q + MINUTE, 100)]),), "2.6",
        (METER, (T0 + Q + MINUTE).isoformat())),
    "interval_overlaps_a_stored_actual": Case(
        (span((T0, 0), (T0 + 2 * Q, 300), [100, 200]),),
        lambda: (span((T0 + Q, 150), (T0 + 2 * Q, 300), [150]),), "2.6", (METER, at(2), "150 Wh", "200 Wh")),
    "span_over_a_stored_register_read": Case(
        (span((T0, 0), (T0 + 2 * Q, 300), [100, 200]),),
        lambda: (span((T0 - Q, 0), (T0 + 4 * Q, 500)),), "2.6", (METER, at(0), "overlaps")),
    "meter_at_another_usage_point": Case(
        (day(),), lambda: (span((T0 + 96 * Q, 1_009_600), (T0 + 97 * Q, 1_009_700), [100], usage_point="UP-OTHER"),),
        "2.7", (METER, POINT, "UP-OTHER")),
    "usage_point_with_another_meter": Case(
        (day(),), lambda: (span((T0 + 96 * Q, 1_009_600), (T0 + 97 * Q, 1_009_700), [100], meter="MTR-OTHER"),),
        "2.7", (METER, POINT, "MTR-OTHER")),
    "not_whole_wh": Case(
        (), lambda: (span((T0, "1.2345"), (T0 + Q, "1.3345"), ["0.1"], register_type=codes.REGISTER_KWH,  # type: ignore[arg-type]
                          interval_type=codes.INTERVAL_15MIN_KWH),), "2.5", (METER, at(0), "1.2345")),
    "negative_interval": Case(
        (), lambda: (span((T0, 0), (T0 + 2 * Q, 300), [-100, 400]),), "2.6", (METER, at(1), "negative")),
    "time_without_a_zone": Case(
        (), lambda: (meter_reading([(T0.replace(tzinfo=None), 0)]),), "2.5", (METER, "time zone")),
    "register_in_an_interval_reading_type": Case(
        (), lambda: (meter_reading([(T0, 0)], register_type=codes.INTERVAL_15MIN_WH),), "2.6",
        (METER, codes.INTERVAL_15MIN_WH, "register")),
    "intervals_in_a_register_reading_type": Case(
        (), lambda: (span((T0, 0), (T0 + Q, 100), [100], interval_type=codes.REGISTER_WH),), "2.6",
        (METER, codes.REGISTER_WH, "15-minute")),
    "no_usage_point_for_a_new_meter": Case(
        (), lambda: (meter_reading([(T0, 0)], usage_point=None),), "1.0", (METER, "UsagePoint")),
    "no_meter": Case((), lambda: (meter_reading([(T0, 0)], meter=None),), "1.0", (POINT, "Meter")),
    "a_valid_meter_reading_beside_a_bad_one": Case(
        (), lambda: (day(), span((T0, 1_000), (T0 + Q, 900), meter="MTR-2", usage_point="UP-2")), "2.6",
        ("MTR-2", at(0), at(1))),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_bad_meter_data_is_refused_with_its_code_and_nothing_is_stored(mdm: Mdm, case: Case) -> None:  # noqa: F811
    if case.stored:
        mdm.send(readings_message(*case.stored))
    before = mdm.counts()
    message = readings_message(*case.bad())
    with pytest.raises(UpstreamFault) as refused:
        mdm.send(message)
    assert refused.value.code == case.code, refused.value.reason
    for name in case.named:
        assert name in refused.value.reason, (name, refused.value.reason)
    assert mdm.counts() == before
    with pytest.raises(UpstreamFault) as again:  # the same message (MessageID) again: the same answer
        mdm.send(message)
    assert (again.value.code, again.value.reason) == (refused.value.code, refused.value.reason)
    assert mdm.counts() == before
    # The service goes on: another meter's day is stored.
    assert codec.decode(mdm.send(readings_message(span((T0, 0), (T0 + Q, 10), [10], meter="MTR-OK",
                                                       usage_point="UP-OK")))).result == "OK"
    assert mdm.counts() == (before[0] + 2, before[1] + 1, before[2])
