"""The 15-minute rules of :mod:`evgrid.operations.metering`: boundaries in any time zone, and spans.

:func:`~evgrid.operations.metering.spans` and the boundary helpers take short cuts for
UTC datetimes (quarter hours checked on the fields, the intervals of a span found as a
slice of the sorted ends). They are checked here against the plain arithmetic they
replace (:func:`reference_spans`, the rules as first written), on random readings in
UTC, fixed offsets (5:45 too) and a zone with summer time: the same spans, or the same
refusal with the same reason.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evgrid.errors import InvalidParameter
from evgrid.operations.metering import (
    INTERVAL,
    Interval,
    Register,
    Span,
    ceil_interval,
    floor_interval,
    interval_ends,
    on_boundary,
    spans,
)

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")
KATHMANDU = timezone(timedelta(hours=5, minutes=45))
ZONES = (UTC, timezone(timedelta(hours=1)), KATHMANDU, timezone(timedelta(hours=-3, minutes=-30)), BERLIN,
         ZoneInfo("UTC"), timezone(timedelta(minutes=7)))
DAY = datetime(2026, 3, 29, tzinfo=UTC)  # Berlin's clocks go forward at 01:00 UTC


# ------------------------------------------------------------------ the reference
def reference_floor(moment: datetime) -> datetime:
    return moment - (moment - _EPOCH) % INTERVAL


def reference_ceil(moment: datetime) -> datetime:
    floor = reference_floor(moment)
    return floor if floor == moment else floor + INTERVAL


def reference_ends(start: datetime, end: datetime) -> list[datetime]:
    ends, cursor = [], reference_floor(start) + INTERVAL
    while cursor <= reference_ceil(end):
        ends.append(cursor)
        cursor += INTERVAL
    return ends


def reference_spans(registers: list[Register], intervals: list[Interval], what: str = "the readings") -> list[Span]:
    """The rules as first written: every end of every span listed, the intervals popped from a dict."""
    reads = sorted(registers, key=lambda r: r.at_utc)
    for before, after in zip(reads, reads[1:], strict=False):
        if after.wh < before.wh:
            raise InvalidParameter(f"{what}: the register goes backwards from {before.wh} Wh at "
                                   f"{before.at_utc.isoformat()} to {after.wh} Wh at {after.at_utc.isoformat()}")
        if after.at_utc == before.at_utc:
            raise InvalidParameter(f"{what}: two register reads at {after.at_utc.isoformat()}")
    by_end: dict[datetime, Interval] = {}
    for interval in intervals:
        if reference_floor(interval.end_utc) != interval.end_utc:
            raise InvalidParameter(f"{what}: interval {interval.end_utc.isoformat()} does not end on a "
                                   "15-minute boundary")
        if interval.end_utc in by_end:
            raise InvalidParameter(f"{what}: interval {interval.end_utc.isoformat()} is given twice")
        by_end[interval.end_utc] = interval
    result = []
    for first, last in zip(reads, reads[1:], strict=False):
        ends = reference_ends(first.at_utc, last.at_utc)
        found = tuple(by_end.pop(end) for end in ends if end in by_end)
        span = Span(first, last, found)
        if found and len(found) != len(ends):
            missing = ", ".join(e.isoformat() for e in ends if e not in {i.end_utc for i in found})
            raise InvalidParameter(f"{what}: the span {first.at_utc.isoformat()} to {last.at_utc.isoformat()} "
                                   f"lacks interval(s) {missing}")
        if found and sum(i.wh for i in found) != span.wh:
            raise InvalidParameter(f"{what}: the intervals from {first.at_utc.isoformat()} to "
                                   f"{last.at_utc.isoformat()} sum to {sum(i.wh for i in found)} Wh, the registers "
                                   f"to {span.wh} Wh")
        result.append(span)
    if by_end:
        raise InvalidParameter(f"{what}: interval {min(by_end).isoformat()} lies between no two register reads")
    return result


def outcome(rules: object, registers: list[Register], intervals: list[Interval]) -> object:
    try:
        return rules(registers, intervals)  # type: ignore[operator]
    except InvalidParameter as error:
        return ("refused", error.reason)


# ------------------------------------------------------------------ boundaries
MOMENTS = [DAY + timedelta(minutes=m, seconds=s, microseconds=us)
           for m in (0, 7, 15, 44, 45, 59, 60, 61, 75, 120, 135, 180)
           for s, us in ((0, 0), (0, 1), (1, 0), (59, 999_999))]


@pytest.mark.parametrize("zone", ZONES, ids=str)
def test_boundaries_in_any_time_zone_are_the_utc_quarter_hours(zone: object) -> None:
    for moment in MOMENTS:
        local = moment.astimezone(zone)  # type: ignore[arg-type]
        assert on_boundary(local) == (moment.minute % 15 == 0 and moment.second == 0 and moment.microsecond == 0)
        floor, ceil = floor_interval(local), ceil_interval(local)
        assert floor == reference_floor(local) and ceil == reference_ceil(local)
        assert floor.utcoffset() == local.utcoffset()  # in the moment's own time zone, as before
        assert floor.isoformat() == reference_floor(local).isoformat()
        assert ceil.isoformat() == reference_ceil(local).isoformat()
        assert interval_ends(local, local + timedelta(minutes=50)) == reference_ends(local, local + timedelta(minutes=50))


def test_a_fixed_offset_off_the_quarter_hour_is_converted_not_read_on_its_fields() -> None:
    local = datetime(2026, 1, 1, 12, 7, tzinfo=timezone(timedelta(minutes=7)))  # 12:00 UTC
    assert on_boundary(local)
    assert not on_boundary(datetime(2026, 1, 1, 12, 0, tzinfo=timezone(timedelta(minutes=7))))
    assert floor_interval(local.replace(minute=20)) == DAY.replace(month=1, day=1, hour=12, minute=0)
    assert on_boundary(datetime(2026, 1, 1, 18, 0, tzinfo=KATHMANDU))  # 12:15 UTC


def test_a_naive_datetime_is_still_refused() -> None:
    with pytest.raises(TypeError):
        on_boundary(datetime(2026, 1, 1))
    with pytest.raises(TypeError):
        floor_interval(datetime(2026, 1, 1, 0, 7))


# ------------------------------------------------------------------ spans
def test_a_day_in_utc_is_one_span_of_96_intervals() -> None:
    intervals = [Interval(DAY + k * INTERVAL, 150) for k in range(1, 97)]
    [span] = spans([Register(DAY, 1000), Register(DAY + 96 * INTERVAL, 1000 + 96 * 150)], reversed(intervals))
    assert span.intervals == tuple(intervals)


def test_an_interval_two_spans_touch_is_the_first_ones() -> None:
    """21:52 and 21:55: both spans touch the interval ending 22:00; the first takes it, the second lacks it."""
    t = DAY.replace(hour=21)
    registers = [Register(t + timedelta(minutes=30), 0), Register(t + timedelta(minutes=52), 10),
                 Register(t + timedelta(minutes=55), 10), Register(t + timedelta(minutes=70), 20)]
    intervals = [Interval(t + timedelta(minutes=45), 4), Interval(t + timedelta(minutes=60), 6),
                 Interval(t + timedelta(minutes=75), 10)]
    assert outcome(spans, registers, intervals) == outcome(reference_spans, registers, intervals)
    assert outcome(spans, registers, intervals)[0] == "refused"  # type: ignore[index]
    registers[2] = Register(t + timedelta(minutes=60), 10)
    intervals[2] = Interval(t + timedelta(minutes=75), 10)
    assert spans(registers, intervals) == reference_spans(registers, intervals)


def test_the_first_stray_interval_is_named() -> None:
    registers = [Register(DAY + 4 * INTERVAL, 0), Register(DAY + 6 * INTERVAL, 2), Register(DAY + 9 * INTERVAL, 3)]
    intervals = [Interval(DAY + INTERVAL, 1), Interval(DAY + 5 * INTERVAL, 1), Interval(DAY + 6 * INTERVAL, 1),
                 Interval(DAY + 12 * INTERVAL, 1)]
    assert outcome(spans, registers, intervals) == (
        "refused", f"the readings: interval {(DAY + INTERVAL).isoformat()} lies between no two register reads")


@st.composite
def readings(draw: st.DrawFn) -> tuple[list[Register], list[Interval]]:
    zone = draw(st.sampled_from(ZONES))
    minutes = sorted(draw(st.lists(st.integers(0, 240), max_size=5)))
    registers, wh = [], 0
    for minute in minutes:
        wh += draw(st.integers(-1, 40))
        second = draw(st.sampled_from((0, 0, 0, 30)))
        registers.append(Register((DAY + timedelta(minutes=minute, seconds=second)).astimezone(zone), wh))
    intervals = []
    for quarter in draw(st.lists(st.integers(-1, 18), max_size=20)):
        end = DAY + quarter * INTERVAL + draw(st.sampled_from((timedelta(0),) * 6 + (timedelta(minutes=1),)))
        intervals.append(Interval(end.astimezone(draw(st.sampled_from(ZONES))), draw(st.integers(0, 20))))
    return draw(st.permutations(registers)), intervals


@st.composite
def consistent_readings(draw: st.DrawFn) -> tuple[list[Register], list[Interval]]:
    """Spans that mostly pass: every interval of a span sent, or none (a gap), registers their sums."""
    zone = draw(st.sampled_from(ZONES))
    cuts = sorted(set(draw(st.lists(st.integers(0, 20 * 15), min_size=2, max_size=6))))
    registers, intervals, wh, taken = [Register(DAY + timedelta(minutes=cuts[0]), 0)], [], 0, set()
    for start, end in zip(cuts, cuts[1:], strict=False):
        ends = [e for e in reference_ends(DAY + timedelta(minutes=start), DAY + timedelta(minutes=end))
                if e not in taken]
        if draw(st.booleans()):
            for e in ends:
                share = draw(st.integers(0, 9))
                intervals.append(Interval(e.astimezone(zone), share))
                wh += share
                taken.add(e)
        registers.append(Register((DAY + timedelta(minutes=end)).astimezone(zone), wh))
    return registers, draw(st.permutations(intervals))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(readings())
def test_spans_match_the_rules_as_first_written(case: tuple[list[Register], list[Interval]]) -> None:
    registers, intervals = case
    assert outcome(spans, registers, intervals) == outcome(reference_spans, registers, intervals)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(consistent_readings())
def test_consistent_spans_match_the_rules_as_first_written(case: tuple[list[Register], list[Interval]]) -> None:
    registers, intervals = case
    assert outcome(spans, registers, intervals) == outcome(reference_spans, registers, intervals)
