"""An IEC 61850 MMS server for a built model, run from one thread.

The binding keeps the GIL while it blocks, so the server runs *threadless*: the owner
calls :meth:`IedServerRunner.poll` in its loop, which waits for network input for at
most a few milliseconds, handles it, and runs the periodic tasks (reports, controls).
Control callbacks therefore arrive on the owner's thread, inside :meth:`poll`; model
updates need no cross-thread locking and cannot deadlock against the library's own
threads. Accept/reject logic goes into the *check* callback, which can name an
IEC 61850-7-2 AddCause; the *operate* callback only executes an accepted command.
The same pair serves analogue setpoints (APC, e.g. DESE1.ChaPwrLim): the binding has no
Python hook for plain MMS writes, so a value the IED must validate is modelled as a
control, whose check callback can refuse it before it takes effect.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyiec61850.pyiec61850 as iec

from evgrid.adapters.iec61850 import tls as tls_config
from evgrid.adapters.iec61850.model import BuiltModel
from evgrid.adapters.iec61850.tls import TlsSettings
from evgrid.adapters.iec61850.values import from_mms, utc_ms
from evgrid.errors import DeviceError
from evgrid.mappings.iec61850_refs import AddCause

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ControlRequest:
    """A select or operate the server received for a controllable data object."""

    ref: str
    value: bool | int | float | None
    is_select: bool
    test: bool
    interlock_check: bool = False


CheckCallback = Callable[[ControlRequest], AddCause | None]
OperateCallback = Callable[[ControlRequest], bool]

# The MMS write error a refused Oper/SBOw gets besides its AddCause: a value the object
# cannot take is object-value-invalid; every other refusal object-access-denied.
_REFUSALS = {AddCause.INCONSISTENT_PARAMETERS: iec.CONTROL_VALUE_INVALID}


class _Check(iec.CheckHandlerForPython):  # type: ignore[misc]
    """Director for the binding's perform-check callback."""

    def __init__(self, ref: str, callback: CheckCallback) -> None:
        super().__init__()
        self._ref = ref
        self._callback = callback

    def trigger(self) -> None:
        # Exceptions must not reach the director (it would abort the process).
        result = iec.CONTROL_OBJECT_ACCESS_DENIED
        try:
            action = self._libiec61850_control_action
            mms = self._libiec61850_mms_value
            request = ControlRequest(
                ref=self._ref,
                value=_scalar(from_mms(mms)) if mms is not None else None,
                is_select=bool(iec.ControlAction_isSelect(action)),
                test=bool(self._libiec61850_test),
                interlock_check=bool(self._libiec61850_interlock_check),
            )
            cause = self._callback(request)
            if cause is None:
                result = iec.CONTROL_ACCEPTED
            else:
                iec.ControlAction_setAddCause(action, int(cause))
                result = _REFUSALS.get(cause, iec.CONTROL_OBJECT_ACCESS_DENIED)
        except Exception:  # callback boundary: the binding would swallow it
            log.exception("check handler of %s failed; rejecting", self._ref)
        self._libiec61850_check_handler_result = result


class _Operate(iec.ControlHandlerForPython):  # type: ignore[misc]
    """Director for the binding's control (operate) callback."""

    def __init__(self, ref: str, callback: OperateCallback) -> None:
        super().__init__()
        self._ref = ref
        self._callback = callback

    def trigger(self) -> None:
        result = iec.CONTROL_RESULT_FAILED
        try:
            mms = self._libiec61850_mms_value
            request = ControlRequest(
                ref=self._ref,
                value=_scalar(from_mms(mms)) if mms is not None else None,
                is_select=False,
                test=bool(self._libiec61850_test),
            )
            if self._callback(request):
                result = iec.CONTROL_RESULT_OK
        except Exception:  # callback boundary: the binding would swallow it
            log.exception("operate handler of %s failed", self._ref)
        self._libiec61850_control_handler_result = result


def _scalar(value: object) -> bool | int | float | None:
    # ctlVal of an APC arrives as a structure (setMag); take its first element.
    while isinstance(value, list) and value:
        value = value[0]
    return value if isinstance(value, bool | int | float) else None


class IedServerRunner:
    """Serves a :class:`BuiltModel` over MMS on one TCP port, driven by :meth:`poll`."""

    def __init__(
        self, model: BuiltModel, *, host: str = "127.0.0.1", port: int = 102, tls: TlsSettings | None = None
    ) -> None:
        self.model = model
        self.host = host
        self.port = port
        self.tls = tls
        self._tls_config: Any = None
        self._server: Any = None
        self._subscribers: list[Any] = []

    def start(self) -> None:
        """Create the server and listen; DeviceError when the port cannot be bound."""
        if self.tls is None:
            self._server = iec.IedServer_create(self.model.handle)
        else:
            self._tls_config = tls_config.configuration(self.tls, client=False)
            self._server = iec.IedServer_createWithTlsSupport(self.model.handle, self._tls_config)
        iec.IedServer_setLocalIpAddress(self._server, self.host)
        iec.IedServer_startThreadless(self._server, self.port)
        if not iec.IedServer_isRunning(self._server):
            iec.IedServer_destroy(self._server)
            self._server = None
            tls_config.release(self._tls_config)
            self._tls_config = None
            raise DeviceError(f"cannot serve MMS on {self.host}:{self.port} (port in use or not permitted)")
        log.info("IED %s serving MMS on %s:%d", self.model.ied_name, self.host, self.port)

    def poll(self, timeout_ms: int) -> None:
        """Wait up to ``timeout_ms`` for client traffic, handle it, run periodic tasks."""
        iec.IedServer_waitReady(self._server, timeout_ms)
        iec.IedServer_processIncomingData(self._server)
        iec.IedServer_performPeriodicTasks(self._server)

    def stop(self) -> None:
        """Close all connections and free the server (the model stays with its owner)."""
        if self._server is None:
            return
        iec.IedServer_stopThreadless(self._server)
        iec.IedServer_destroy(self._server)
        self._server = None
        self._subscribers.clear()
        tls_config.release(self._tls_config)
        self._tls_config = None
        log.info("IED %s stopped", self.model.ied_name)

    def connections(self) -> int:
        """Number of open MMS connections."""
        return int(iec.IedServer_getNumberOfOpenConnections(self._server))

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group updates so clients and reports see them together."""
        iec.IedServer_lockDataModel(self._server)
        try:
            yield
        finally:
            iec.IedServer_unlockDataModel(self._server)

    def install_control(self, do_ref: str, check: CheckCallback, operate: OperateCallback) -> None:
        """Route selects/operates of controllable object ``do_ref`` to the callbacks."""
        node = iec.IedModel_getModelNodeByObjectReference(self.model.handle, do_ref)
        if node is None or do_ref not in self.model.controls:
            raise KeyError(f"no controllable data object {do_ref!r} in IED {self.model.ied_name!r}")
        subscriber = iec.ControlSubscriberForPython()
        subscriber.setIedServer(self._server)
        subscriber.setControlObject(iec.toDataObject(node))
        # The subscriber owns (and deletes) the disowned handlers.
        subscriber.setCheckHandler(_Check(do_ref, check).__disown__())
        subscriber.setControlHandler(_Operate(do_ref, operate).__disown__())
        if not subscriber.subscribe():
            raise DeviceError(f"cannot install control handlers for {do_ref}")
        self._subscribers.append(subscriber)

    def update(self, ref: str, value: float | str | datetime) -> None:
        """Set data attribute ``ref`` (typed by its SCL bType) and trigger reports."""
        attribute = self.model.attribute(ref)
        handle = attribute.handle
        btype = attribute.definition.btype
        server = self._server
        if btype == "BOOLEAN":
            iec.IedServer_updateBooleanAttributeValue(server, handle, bool(value))
        elif btype in ("INT64",):
            iec.IedServer_updateInt64AttributeValue(server, handle, int(value))  # type: ignore[arg-type]
        elif btype in ("INT8", "INT16", "INT32", "Enum"):
            iec.IedServer_updateInt32AttributeValue(server, handle, _enum(attribute.enum, value))
        elif btype.startswith("INT") and btype.endswith("U"):
            iec.IedServer_updateUnsignedAttributeValue(server, handle, int(value))  # type: ignore[arg-type]
        elif btype in ("FLOAT32", "FLOAT64"):
            iec.IedServer_updateFloatAttributeValue(server, handle, float(value))  # type: ignore[arg-type]
        elif btype in ("Dbpos", "Tcmd"):
            iec.IedServer_updateDbposValue(server, handle, int(value))  # type: ignore[arg-type]
        elif btype.startswith("VisString") or btype == "ObjRef":
            iec.IedServer_updateVisibleStringAttributeValue(server, handle, str(value))
        elif btype == "Timestamp":
            if not isinstance(value, datetime):
                raise TypeError(f"{ref} is a Timestamp: give an aware datetime")
            iec.IedServer_updateUTCTimeAttributeValue(server, handle, utc_ms(value))
        else:
            raise TypeError(f"updating {ref} of bType {btype} is not supported")


def _enum(enum: Any, value: object) -> int:
    if isinstance(value, str):
        if enum is None or value not in enum:
            raise ValueError(f"{value!r} is not a value of the enumeration")
        return int(enum[value])
    return int(value)  # type: ignore[call-overload]
