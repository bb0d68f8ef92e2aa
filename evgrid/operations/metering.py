"""15-minute interval metering: the rules every reader of a meter's readings applies.

A site's portal reads the meter's energy register at a session's start, at every
15-minute boundary while it charges and at its end, and sends each *span* between two
register reads with the 15-minute intervals it closes (IEC 61968-9: an IntervalReading
is stamped with the end of its interval). A boundary read is stamped with the boundary
itself, so the intervals of a span ``(t0, t1]`` are exactly those whose end lies in
``(floor(t0), ceil(t1)]`` (:func:`interval_ends`).

Validation (the V of VEE), applied by the operation system and by meter data management:

- a register never goes backwards;
- interval timestamps are 15-minute boundaries, none twice;
- when a span carries every one of its intervals, they sum to its register delta to
  the Wh; when it carries none of them (the portal could not read at a boundary: an IED
  restart, a lost connection) the span is a *gap*, to be estimated; carrying some but not
  all is refused, as is any interval outside the spans.

Estimation (the E): a gap's register delta is spread over its intervals in proportion to
the time each overlaps the span (linear interpolation between the registers around it),
every Wh kept; :data:`ESTIMATED` flags each such interval.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from evgrid.errors import InvalidParameter

INTERVAL = timedelta(minutes=15)
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
# IEC 61968-9 ReadingQualityType, systemId.category.subCategory: 3 = assigned by meter data
# management, 8 = estimated, 0 = no further detail (the estimate is a linear interpolation
# between the registers around the gap; docs/metering.md says where the code comes from).
ESTIMATED = "3.8.0"


# How far ahead of the operation system's clock a reading may be stamped.
CLOCK_SKEW = timedelta(minutes=5)


def floor_interval(moment: datetime) -> datetime:
    """The 15-minute boundary at or before ``moment`` (in ``moment``'s time zone)."""
    if moment.tzinfo is UTC:  # the common case: UTC's boundaries are its quarter hours, no arithmetic
        minute = moment.minute
        if minute % 15 or moment.second or moment.microsecond:
            return moment.replace(minute=minute - minute % 15, second=0, microsecond=0)
        return moment
    return moment - (moment - _EPOCH) % INTERVAL


def ceil_interval(moment: datetime) -> datetime:
    """The 15-minute boundary at or after ``moment``."""
    floor = floor_interval(moment)
    return floor if floor == moment else floor + INTERVAL


def on_boundary(moment: datetime) -> bool:
    """True when ``moment`` is a 15-minute boundary."""
    if moment.tzinfo is not UTC:
        return floor_interval(moment) == moment  # another time zone (an offset of 5:45 too), or naive: TypeError
    return not (moment.minute % 15 or moment.second or moment.microsecond)


def interval_ends(start: datetime, end: datetime) -> list[datetime]:
    """The ends of the 15-minute intervals a span ``(start, end]`` touches, oldest first."""
    ends, cursor = [], floor_interval(start) + INTERVAL
    last = ceil_interval(end)
    while cursor <= last:
        ends.append(cursor)
        cursor += INTERVAL
    return ends


@dataclass(frozen=True, slots=True)
class Register:
    """A register read: Wh at an instant."""

    at_utc: datetime
    wh: int


@dataclass(frozen=True, slots=True)
class Interval:
    """The energy of one 15-minute interval, stamped with its end."""

    end_utc: datetime
    wh: int
    estimated: bool = False


@dataclass(frozen=True, slots=True)
class Span:
    """Two consecutive register reads and the intervals between them ((), a gap, when unread)."""

    first: Register
    last: Register
    intervals: tuple[Interval, ...]

    @property
    def wh(self) -> int:
        """The register delta."""
        return self.last.wh - self.first.wh

    @property
    def gap(self) -> bool:
        """No interval was read: the span is to be estimated."""
        return not self.intervals


def spans(registers: Iterable[Register], intervals: Iterable[Interval], *, what: str = "the readings") -> list[Span]:
    """Pair interval readings with the register spans they lie in, checking every rule.

    Only ``end_utc`` and ``wh`` of an interval are read, and the spans carry the very
    objects given (a store's rows will do as well as :class:`Interval`).

    Raises:
        InvalidParameter: a register goes backwards, an interval is off a boundary or
            given twice, lies in no span, a span's intervals are incomplete or do not
            sum to its register delta. The reason names the reading.
    """
    reads = sorted(registers, key=lambda r: r.at_utc)
    for before, after in zip(reads, reads[1:], strict=False):
        if after.wh < before.wh:
            raise InvalidParameter(f"{what}: the register goes backwards from {before.wh} Wh at "
                                   f"{before.at_utc.isoformat()} to {after.wh} Wh at {after.at_utc.isoformat()}")
        if after.at_utc == before.at_utc:
            raise InvalidParameter(f"{what}: two register reads at {after.at_utc.isoformat()}")
    by_end: dict[datetime, Interval] = {}
    all_utc = all(r.at_utc.tzinfo is UTC for r in reads)
    for interval in intervals:
        end = interval.end_utc
        if end.tzinfo is not UTC:
            all_utc = False
            if not on_boundary(end):
                raise InvalidParameter(f"{what}: interval {end.isoformat()} does not end on a 15-minute boundary")
        elif end.minute % 15 or end.second or end.microsecond:
            raise InvalidParameter(f"{what}: interval {end.isoformat()} does not end on a 15-minute boundary")
        if end in by_end:
            raise InvalidParameter(f"{what}: interval {end.isoformat()} is given twice")
        by_end[end] = interval
    if not all_utc:  # another time zone: aware datetimes of one zone compare by wall clock, so each end is looked up
        return _spans_by_ends(reads, by_end, what)
    # A span (t0, t1] holds the intervals ending in (floor(t0), ceil(t1)]: a slice of the
    # sorted ends. Both bounds only grow from one span to the next, so an interval two spans
    # touch (one ending off a boundary, the next starting before it) is the first one's:
    # each span takes its slice from where the one before stopped.
    ends = sorted(by_end)
    result, taken, stray = [], 0, None
    for first, last in zip(reads, reads[1:], strict=False):
        low, high = floor_interval(first.at_utc), ceil_interval(last.at_utc)
        start, stop = bisect_right(ends, low), bisect_right(ends, high)
        if start > taken and stray is None:  # intervals between the previous span and this one: in none
            stray = ends[taken]
        start = max(start, taken)
        found = tuple([by_end[end] for end in ends[start:stop]])
        taken = stop
        _check_span(first, last, found, (high - low) // INTERVAL, what)
        result.append(Span(first, last, found))
    if stray is None and taken < len(ends):
        stray = ends[taken]
    if stray is not None:
        raise InvalidParameter(f"{what}: interval {stray.isoformat()} lies between no two register reads")
    return result


def _spans_by_ends(reads: list[Register], by_end: dict[datetime, Interval], what: str) -> list[Span]:
    """:func:`spans`' pairing for times not all in UTC: every end of every span looked up."""
    result = []
    for first, last in zip(reads, reads[1:], strict=False):
        ends = interval_ends(first.at_utc, last.at_utc)
        found = tuple(by_end.pop(end) for end in ends if end in by_end)
        _check_span(first, last, found, len(ends), what)
        result.append(Span(first, last, found))
    if by_end:
        raise InvalidParameter(f"{what}: interval {min(by_end).isoformat()} lies between no two register reads")
    return result


def _check_span(first: Register, last: Register, found: tuple[Interval, ...], expected: int, what: str) -> None:
    """A span's intervals: all of its ``expected`` ones or none, summing to its register delta."""
    if found and len(found) != expected:
        missing = ", ".join(e.isoformat() for e in interval_ends(first.at_utc, last.at_utc)
                            if e not in {i.end_utc for i in found})
        raise InvalidParameter(f"{what}: the span {first.at_utc.isoformat()} to {last.at_utc.isoformat()} "
                               f"lacks interval(s) {missing}")
    if found and sum([i.wh for i in found]) != last.wh - first.wh:
        raise InvalidParameter(f"{what}: the intervals from {first.at_utc.isoformat()} to "
                               f"{last.at_utc.isoformat()} sum to {sum(i.wh for i in found)} Wh, the registers "
                               f"to {last.wh - first.wh} Wh")


def estimate(span: Span) -> tuple[Interval, ...]:
    """A gap's intervals: its register delta spread by overlap time, every Wh kept, each flagged."""
    ends = interval_ends(span.first.at_utc, span.last.at_utc)
    total_s = (span.last.at_utc - span.first.at_utc).total_seconds()
    if total_s <= 0 or len(ends) == 1:
        return (Interval(ends[0], span.wh, True),) if ends else ()
    shares, given = [], 0
    for end in ends:
        overlap = (min(end, span.last.at_utc) - max(end - INTERVAL, span.first.at_utc)).total_seconds()
        share = int(span.wh * max(overlap, 0) // total_s)
        shares.append(share)
        given += share
    # The rounding remainder (fewer Wh than intervals) goes one Wh each to the earliest intervals.
    for k in range(span.wh - given):
        shares[k % len(shares)] += 1
    return tuple(Interval(end, wh, True) for end, wh in zip(ends, shares, strict=True))


def completed(all_spans: Sequence[Span]) -> list[Interval]:
    """Every interval of the spans, gaps estimated, merged by end (two spans may share one)."""
    merged: dict[datetime, Interval] = {}
    for span in all_spans:
        for interval in span.intervals or estimate(span):
            known = merged.get(interval.end_utc)
            merged[interval.end_utc] = interval if known is None else Interval(
                interval.end_utc, known.wh + interval.wh, known.estimated or interval.estimated)
    return [merged[end] for end in sorted(merged)]
