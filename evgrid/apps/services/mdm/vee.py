"""Validation, estimation and editing (VEE) of one MeterReading against what the MDM stores.

The rules of :mod:`evgrid.operations.metering` hold for the message on its own
(:func:`~evgrid.operations.metering.spans`): registers never go backwards, intervals end
on 15-minute boundaries, once each, a span carries all of its intervals and they sum to
its register delta, or none (a gap), and no interval lies outside the spans. Then,
against the store:

- a meter stays at one usage point and a usage point has one meter: the MDM has no
  registry, so the first reading pairs them and another pairing is refused (2.7); a
  MeterReading without its UsagePoint is the meter's known one (a new meter needs it, 1.0);
- the register never goes backwards across the stored reads either (the last read
  before the message, those inside it, the first after it);
- a register already stored at the same timestamp with another value is a conflict
  (``created``); a ``changed`` message corrects it;
- a span may not contain a stored register read strictly inside it (it would overlap
  spans already stored);
- an interval already stored as actual with another value is a duplicate (``created``;
  the same value is an idempotent replay); ``changed`` replaces it. An estimate never
  replaces an actual, not even in a ``changed`` message (a correction of a span's
  registers carries its intervals); an actual always replaces an estimate.

A gap's intervals are estimated (:func:`~evgrid.operations.metering.estimate`) and
stored with quality :data:`~evgrid.operations.metering.ESTIMATED`.

Two spans may share an interval: a span that ends off a boundary (a session's end at
21:52) and the next that starts before that boundary (a session starting at 21:55)
both touch the interval ending 22:00, each with its own part. The MDM keeps one value
per meter and interval end, their sum (as :func:`~evgrid.operations.metering.completed`
merges them), estimated if either part is. It tells a neighbour's part from a replay by
the registers: the part is added when a stored register lies inside that interval on
the other side of the span and the span is new (its two registers were not both stored
before). A replayed span leaves such a shared interval as stored: its parts cannot be
told apart again.

Any violation raises: the Router answers FAILED with the error's code, and nothing of the
message is stored (one transaction).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from evgrid.adapters.store.mdm import MdmUnitOfWork, StoredInterval, StoredRegister
from evgrid.apps.services.mdm.readings import MeterReadingIn
from evgrid.errors import InvalidParameter, MissingElement, UnknownReference
from evgrid.mappings.codes import INTERVAL_15MIN_WH
from evgrid.operations.metering import ESTIMATED, INTERVAL, Register, Span, estimate, on_boundary, spans


@dataclass(slots=True)
class _Writes:
    """What one MeterReading changes: new rows and rows overwritten, intervals by end."""

    new_registers: list[StoredRegister] = field(default_factory=list)
    changed_registers: list[StoredRegister] = field(default_factory=list)
    intervals: dict[datetime, StoredInterval] = field(default_factory=dict)
    stored_ends: set[datetime] = field(default_factory=set)


def apply_all(readings: Sequence[MeterReadingIn], uow: MdmUnitOfWork, message_id: str | None, *,
              correction: bool) -> None:
    """:func:`apply` to every MeterReading of a message, their meters and usage points locked first.

    All at once and in one order: two messages about the same meters wait for each other
    instead of deadlocking.
    """
    uow.lock([f"meter:{r.meter}" for r in readings] + [f"usage-point:{r.usage_point}" for r in readings if r.usage_point])
    for reading in readings:
        apply(reading, uow, message_id, correction=correction)


def apply(reading: MeterReadingIn, uow: MdmUnitOfWork, message_id: str | None, *, correction: bool) -> None:
    """Validate one MeterReading against the message's rules and the store, then store it.

    ``correction``: a ``changed`` message, whose values replace stored ones. The caller
    holds the locks of its meter and usage point (:func:`apply_all`).

    Raises:
        InvalidParameter: a rule of the module docstring is broken; the reason names the
            meter and the reading's timestamp.
        UnknownReference: the meter is stored at another usage point, or the usage point
            with another meter.
        MissingElement: no usage point given for a meter the MDM does not know yet.
    """
    meter, usage_point = reading.meter, reading.usage_point
    what = f"meter {meter}"
    # The message on its own first: it needs no database.
    # The rows themselves as the intervals (spans reads only end_utc and wh): no copy of 96 of them.
    message_spans = spans([Register(r.at_utc, r.wh) for r in reading.registers],
                          reading.intervals, what=what)  # type: ignore[arg-type]
    if not reading.registers:
        return  # nothing to store (spans() refused any interval without registers)
    first = min(r.at_utc for r in reading.registers)
    last = max(r.at_utc for r in reading.registers)
    stored = uow.registers_around(meter, first, last)
    if stored:  # a known meter: every read of it was stored at one usage point, which has no other meter
        if not usage_point:  # the MeterReading did not say: the meter's
            reading = _at_usage_point(reading, stored[0].usage_point)
        elif stored[0].usage_point != usage_point:
            raise UnknownReference(f"meter {meter} is at usage point {stored[0].usage_point} in the MDM, not at "
                                   f"{usage_point}", mrid=meter)
    elif not usage_point:
        raise MissingElement(f"{what} is new to the MDM: its first MeterReading must name its UsagePoint")
    else:
        _check_pairing(uow, meter, usage_point)
    writes = _Writes()
    _check_registers(reading, stored, writes, what, correction)
    if message_spans:
        _plan_intervals(reading, message_spans, stored, uow, writes, what, correction)
    uow.add_registers(writes.new_registers, message_id)
    uow.replace_registers(writes.changed_registers, message_id)
    uow.add_intervals([i for end, i in writes.intervals.items() if end not in writes.stored_ends]
                      if writes.stored_ends else list(writes.intervals.values()), message_id)
    uow.replace_intervals([i for end, i in writes.intervals.items() if end in writes.stored_ends], message_id)


def _at_usage_point(reading: MeterReadingIn, usage_point: str) -> MeterReadingIn:
    return MeterReadingIn(reading.meter, usage_point, tuple(r._replace(usage_point=usage_point) for r in reading.registers),
                          tuple(i._replace(usage_point=usage_point) for i in reading.intervals))


def _check_pairing(uow: MdmUnitOfWork, meter: str, usage_point: str) -> None:
    other = uow.other_pairing(meter, usage_point)
    if other is None:
        return
    other_meter, other_point = other
    if other_meter == meter:
        raise UnknownReference(f"meter {meter} is at usage point {other_point} in the MDM, not at {usage_point}",
                               mrid=meter)
    raise UnknownReference(f"usage point {usage_point} has meter {other_meter} in the MDM, not {meter}",
                           mrid=usage_point)


def _check_registers(reading: MeterReadingIn, stored: list[StoredRegister], writes: _Writes, what: str,
                     correction: bool) -> None:
    """Conflicts at stored timestamps, and the register never backwards across stored and new reads."""
    stored_at = {s.at_utc: s for s in stored}
    for register in reading.registers:
        known = stored_at.get(register.at_utc)
        if known is None:
            writes.new_registers.append(register)
        elif known.wh != register.wh or (correction and known.reading_type != register.reading_type):
            if not correction:
                raise InvalidParameter(
                    f"{what}: the register read at {register.at_utc.isoformat()} is {register.wh} Wh, but "
                    f"{known.wh} Wh is stored for that time (a conflict; a changed MeterReadings corrects it)",
                    details=what)
            writes.changed_registers.append(register)
    # Every read in order, the message's overriding the stored ones at the same time.
    merged: dict[datetime, tuple[int, str]] = {s.at_utc: (s.wh, "stored") for s in stored}
    merged.update({r.at_utc: (r.wh, "sent") for r in reading.registers})
    ordered = sorted(merged.items())
    for (before_at, (before_wh, before_is)), (after_at, (after_wh, after_is)) in zip(ordered, ordered[1:],
                                                                                     strict=False):
        if after_wh < before_wh:
            raise InvalidParameter(
                f"{what}: the register goes backwards from {before_wh} Wh at {before_at.isoformat()} "
                f"({before_is}) to {after_wh} Wh at {after_at.isoformat()} ({after_is})", details=what)


def _plan_intervals(reading: MeterReadingIn, message_spans: list[Span], stored: list[StoredRegister],
                    uow: MdmUnitOfWork, writes: _Writes, what: str, correction: bool) -> None:
    """The intervals each span stores (actual, or estimated for a gap), merged with what is stored."""
    stored_times = sorted(s.at_utc for s in stored)
    sent = {r.at_utc for r in reading.registers}
    for span in message_spans:
        inside = [t for t in stored_times if span.first.at_utc < t < span.last.at_utc and t not in sent]
        if inside:
            raise InvalidParameter(
                f"{what}: the span {span.first.at_utc.isoformat()} to {span.last.at_utc.isoformat()} overlaps "
                f"readings already stored (a register read at {inside[0].isoformat()})", details=what)
    sent_intervals = {i.end_utc: i for i in reading.intervals}
    estimate_type = reading.intervals[0].reading_type if reading.intervals else INTERVAL_15MIN_WH
    first = min(span.first.at_utc for span in message_spans)
    last = max(span.last.at_utc for span in message_spans)
    stored_set = set(stored_times)
    kept = (uow.intervals_between(reading.meter, first, last + INTERVAL)
            if _may_hold_intervals(stored_times, first, last) else {})
    for span in message_spans:
        replay = span.first.at_utc in stored_set and span.last.at_utc in stored_set
        actual = bool(span.intervals)  # the message's rows; else the gap's estimates
        if actual and not kept:  # nothing stored to merge with (a new day): the loop below, shorter
            planned = writes.intervals
            for interval in span.intervals:
                end = interval.end_utc
                pending = planned.get(end)
                planned[end] = sent_intervals[end] if pending is None else _sum(pending, sent_intervals[end])
            continue
        for interval in span.intervals or estimate(span):
            end = interval.end_utc
            if not actual:  # in the ReadingType of the interval sent for that end (another span's), if any
                sent_row = sent_intervals.get(end)
                row = StoredInterval(reading.meter, reading.usage_point,
                                     sent_row.reading_type if sent_row else estimate_type, end, interval.wh, ESTIMATED)
            else:  # the message's own row: same meter, usage point, ReadingType, end and Wh
                row = sent_intervals[end]
            pending = writes.intervals.get(end)
            if pending is not None:  # two gaps of this message share the interval: their parts add up
                writes.intervals[end] = _sum(pending, row)
                continue
            known = kept.get(end)
            if known is None:
                writes.intervals[end] = row
                continue
            writes.stored_ends.add(end)
            if _neighbour_part(span, end, stored_times):
                if not replay:
                    writes.intervals[end] = _sum(known, row)
                continue  # a replay: the stored sum stands
            merged = _merge(known, row, what, correction)
            if merged is None:
                writes.stored_ends.discard(end)
            else:
                writes.intervals[end] = merged


def _may_hold_intervals(stored_times: list[datetime], first: datetime, last: datetime) -> bool:
    """Whether stored spans may have intervals among those of ``(first, last]`` (else: no need to read them).

    ``stored_times`` are the meter's reads in ``[first, last]`` and its neighbours before and
    after. A stored span touches an interval of the message only when a stored read lies
    inside it, it was stored itself (both its reads are), a stored span straddles ``first``
    or ``last`` (a neighbour with no read at that end), or one ends or starts off a boundary
    at ``first`` or ``last`` (a shared interval).
    """
    if not (on_boundary(first) and on_boundary(last)):
        return True
    if any(first < t < last for t in stored_times):
        return True
    stored = set(stored_times)
    if first in stored and last in stored:  # maybe this very span, sent before
        return True
    straddles_first = first not in stored and any(t < first for t in stored_times)
    straddles_last = last not in stored and any(t > last for t in stored_times)
    return straddles_first or straddles_last


def _neighbour_part(span: Span, end: datetime, stored_times: list[datetime]) -> bool:
    """Whether the interval ending at ``end`` also holds a stored neighbour span's part."""
    start = end - INTERVAL
    return any(start < t < span.first.at_utc or span.last.at_utc < t < end for t in stored_times)


def _sum(known: StoredInterval, part: StoredInterval) -> StoredInterval:
    quality = ESTIMATED if known.quality or part.quality else None
    return StoredInterval(known.meter, known.usage_point, known.reading_type, known.end_utc, known.wh + part.wh,
                          quality)


def _merge(known: StoredInterval, row: StoredInterval, what: str, correction: bool) -> StoredInterval | None:
    """What is stored at an interval end already holding ``known``; None: leave it as it is."""
    if known.quality is not None:  # an estimate: anything sent replaces it
        return row
    if row.quality is not None:  # an estimate never replaces an actual
        return None
    if known.wh == row.wh and known.reading_type == row.reading_type:
        return None  # the same reading again
    if correction:
        return row
    if known.wh == row.wh:
        return None  # the same energy in another unit
    raise InvalidParameter(
        f"{what}: the interval ending {row.end_utc.isoformat()} is {row.wh} Wh, but {known.wh} Wh is stored "
        f"for it as actual (a duplicate or overlapping span; a changed MeterReadings corrects it)", details=what)
