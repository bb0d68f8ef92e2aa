"""A report that carries only what changed must not erase what the others said."""

from __future__ import annotations

from datetime import UTC, datetime

from evgrid.adapters.iec61850.devices import _Merged
from evgrid.adapters.iec61850.reports import Report

NOT_INCLUDED, DATA_CHANGE, GI = 0, 1, 16


def report(values: tuple, reasons: tuple) -> Report:
    return Report("LD/LLN0.RP.urcbEV01", "LD/LLN0.EvIdentity", 1, values, reasons, datetime.now(UTC))


def test_a_partial_report_before_the_general_interrogation_is_held_back() -> None:
    merged = _Merged(3, required=(0, 1))
    # Fresh subscription: a data change of member 2 arrives first; 0 and 1 are unknown.
    assert not merged.apply(report((None, None, 7.0), (NOT_INCLUDED, NOT_INCLUDED, DATA_CHANGE)))
    assert merged.apply(report((2, "EV-1", 7.0), (GI, GI, GI)))
    assert merged.values == [2, "EV-1", 7.0]


def test_members_a_report_leaves_out_keep_their_last_value() -> None:
    merged = _Merged(3, required=(0, 1))
    merged.apply(report((2, "EV-1", 7.0), (GI, GI, GI)))
    # After a reconnect the binding's values start empty again: None is "not included", not "no EV".
    assert merged.apply(report((3, None, None), (DATA_CHANGE, NOT_INCLUDED, NOT_INCLUDED)))
    assert merged.values == [3, "EV-1", 7.0]
    assert merged.apply(report((1, "", 0.0), (DATA_CHANGE, DATA_CHANGE, DATA_CHANGE)))  # the EV left
    assert merged.values == [1, "", 0.0]
