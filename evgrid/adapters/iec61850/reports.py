"""Report reception for the MMS client: decoded reports and the binding's plumbing.

The binding calls report handlers on libiec61850's connection thread and dispatches
them through a *process-wide* table keyed by RCB reference. Two consequences shape
this module:

* a handler only decodes the report into a :class:`Report` and hands it on (to the
  client's I/O thread); user callbacks never run on the library's thread, so they may
  call the client again;
* an RCB reference can be subscribed by one connection of a process at a time.
  :class:`RcbClaims` enforces that with a clear error instead of the binding silently
  routing reports to the wrong connection. Standalone IEDs that share LD names (several
  ``EVSESTA``) therefore get distinct names with ``evgrid ied serve --name``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyiec61850.pyiec61850 as iec

from evgrid.adapters.iec61850.values import Value, from_mms
from evgrid.errors import DeviceError

log = logging.getLogger(__name__)

REASON_NOT_INCLUDED = 0


@dataclass(frozen=True, slots=True)
class Report:
    """One received report: the data set values in member order.

    ``values`` holds the last known value of every member (None before the first
    report that included it); ``reasons`` says which members this report carries
    (IEC 61850 ReasonForInclusion bits: 1 data change, 2 quality change, 4 data
    update, 8 integrity, 16 general interrogation; 0 not included).
    """

    rcb: str
    data_set: str | None
    seq_num: int | None
    values: tuple[Value, ...]
    reasons: tuple[int, ...]
    received_at: datetime

    def changed(self, index: int) -> bool:
        """True when member ``index`` is included in this report."""
        return self.reasons[index] != REASON_NOT_INCLUDED

    @property
    def is_gi(self) -> bool:
        """True for a general-interrogation report (a full snapshot)."""
        return any(reason & iec.IEC61850_REASON_GI for reason in self.reasons)


def decode(report: Any, rcb: str) -> Report:
    """Decode a binding ClientReport (valid only during the callback)."""
    values = iec.ClientReport_getDataSetValues(report)
    count = iec.MmsValue_getArraySize(values) if values is not None else 0
    decoded: list[Value] = []
    reasons: list[int] = []
    for index in range(count):
        element = iec.MmsValue_getElement(values, index)
        try:
            decoded.append(from_mms(element) if element is not None else None)
        except (LookupError, TypeError):
            decoded.append(None)
        reasons.append(int(iec.ClientReport_getReasonForInclusion(report, index)))
    return Report(
        rcb=rcb,
        data_set=iec.ClientReport_getDataSetName(report) if iec.ClientReport_hasDataSetName(report) else None,
        seq_num=int(iec.ClientReport_getSeqNum(report)) if iec.ClientReport_hasSeqNum(report) else None,
        values=tuple(decoded),
        reasons=tuple(reasons),
        received_at=datetime.now(UTC),
    )


class ReportHandler(iec.RCBHandler):  # type: ignore[misc]
    """Binding director: decode on the library thread, deliver through ``sink``."""

    def __init__(self, rcb: str, sink: Callable[[Report], None]) -> None:
        super().__init__()
        self._rcb = rcb
        self._sink = sink

    def trigger(self) -> None:
        # Callback boundary: an exception escaping a director aborts the process.
        try:
            self._sink(decode(self._client_report, self._rcb))
        except Exception:
            log.exception("report of %s could not be decoded", self._rcb)


class RcbClaims:
    """Which client owns which RCB reference in this process (see module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owners: dict[str, int] = {}

    def claim(self, rcb: str, owner: object) -> bool:
        """Claim ``rcb`` for ``owner``; False when another owner holds it."""
        with self._lock:
            current = self._owners.get(rcb)
            if current is not None and current != id(owner):
                return False
            self._owners[rcb] = id(owner)
            return True

    def release(self, rcb: str, owner: object) -> None:
        """Give ``rcb`` back."""
        with self._lock:
            if self._owners.get(rcb) == id(owner):
                del self._owners[rcb]


CLAIMS = RcbClaims()


def install(connection: Any, rcb: str, rpt_id: str, sink: Callable[[Report], None]) -> Any:
    """Install the handler of ``rcb`` on ``connection``; returns what must stay alive.

    Call only while no report can arrive on the connection (the binding takes a lock
    the library thread holds during report callbacks, and keeps the GIL meanwhile).
    """
    subscriber = iec.RCBSubscriber()
    subscriber.setIedConnection(connection)
    subscriber.setRcbReference(rcb)
    subscriber.setRcbRptId(rpt_id)
    subscriber.setEventHandler(ReportHandler(rcb, sink).__disown__())
    if not subscriber.subscribe():
        raise DeviceError(f"the binding refused a second report handler for {rcb}")
    return subscriber


# --- RCB and data set services (I/O thread; all GIL-releasing calls) ------------------
def _rcb_values(connection: Any, ref: str) -> tuple[Any, int]:
    holder = iec.ClientReportControlBlock_create(ref)
    rcb, error = iec.pyWrap_IedConnection_getRCBValues(connection, ref, holder)
    if error != iec.IED_ERROR_OK:
        iec.ClientReportControlBlock_destroy(holder)
        return None, int(error)
    return rcb, 0


def rcb_instances(connection: Any, base: str) -> tuple[list[str], int]:
    """``[base]`` if it exists, else its indexed instances ``base01``, ``base02`` ...

    Returns the names and the error of the first probe (for connection errors).
    """
    rcb, error = _rcb_values(connection, base)
    if rcb is not None:
        iec.ClientReportControlBlock_destroy(rcb)
        return [base], 0
    found = []
    for index in range(1, 100):
        rcb, _ = _rcb_values(connection, f"{base}{index:02d}")
        if rcb is None:
            break
        iec.ClientReportControlBlock_destroy(rcb)
        found.append(f"{base}{index:02d}")
    return found, (0 if found else error)


def rcb_state(connection: Any, ref: str) -> tuple[bool, str] | None:
    """(free, RptID) of RCB ``ref``: free when no client has it enabled."""
    rcb, _ = _rcb_values(connection, ref)
    if rcb is None:
        return None
    try:
        return not iec.ClientReportControlBlock_getRptEna(rcb), iec.ClientReportControlBlock_getRptId(
            rcb
        ) or ref
    finally:
        iec.ClientReportControlBlock_destroy(rcb)


def set_rcb(connection: Any, ref: str, element: str, value: bool) -> int:
    """Write RptEna or GI of RCB ``ref``; returns the IedClientError code."""
    rcb = iec.ClientReportControlBlock_create(ref)
    try:
        if element == "RptEna":
            iec.ClientReportControlBlock_setRptEna(rcb, value)
            mask = iec.RCB_ELEMENT_RPT_ENA
        else:
            iec.ClientReportControlBlock_setGI(rcb, value)
            mask = iec.RCB_ELEMENT_GI
        _result, error = iec.pyWrap_IedConnection_setRCBValues(connection, rcb, mask, True)
        return int(error)
    finally:
        iec.ClientReportControlBlock_destroy(rcb)


def dataset_directory(connection: Any, ref: str) -> tuple[list[tuple[str, str]], int]:
    """Members (reference, FC) of data set ``ref``, and the error code.

    The binding's call keeps the GIL while it blocks: call it with no report flowing.
    """
    directory, error = iec.IedConnection_getDataSetDirectory(connection, ref, None)
    if error != iec.IED_ERROR_OK:
        return [], int(error)
    members: list[tuple[str, str]] = []
    element = iec.LinkedList_getNext(directory)
    while element is not None:
        # libiec61850 lists members as "LD/LN.DO.DA[FC]".
        text = iec.toCharP(iec.LinkedList_getData(element))
        member, _, fc = text.rstrip("]").rpartition("[")
        members.append((member, fc))
        element = iec.LinkedList_getNext(element)
    iec.LinkedList_destroy(directory)
    return members, 0
