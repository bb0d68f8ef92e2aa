"""Client side of IEC 61850 controls (IEC 61850-7-2 clause 20, MMS mapping 8.1).

A :class:`ControlHandle` operates one controllable data object with the control model
the IED declares (``ctlModel``): direct, select-before-operate (SBO: read ``SBO``), or
SBO with enhanced security (write ``SBOw`` with the same value, ctlNum and origin as
the following ``Oper``).

Selects and operates are plain MMS writes built here and sent with the binding's
GIL-releasing write, so a report arriving meanwhile is never blocked. The binding's
ControlObjectClient is still created, because libiec61850 hands the LastApplError
(with its AddCause) to the ControlObjectClient of the object it concerns; a rejection
becomes :class:`evgrid.errors.WriteRejected` carrying that AddCause.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import pyiec61850.pyiec61850 as iec

from evgrid.adapters.iec61850.values import octets
from evgrid.errors import DeviceError, DeviceUnreachable, WriteRejected
from evgrid.mappings.iec61850_refs import AddCause, CtlModel

log = logging.getLogger(__name__)

CONNECTION_ERRORS = frozenset(
    {
        iec.IED_ERROR_NOT_CONNECTED,
        iec.IED_ERROR_CONNECTION_LOST,
        iec.IED_ERROR_CONNECTION_REJECTED,
        iec.IED_ERROR_TIMEOUT,
    }
)
ORCAT_REMOTE_CONTROL = 3


class ControlHandle:
    """One controllable data object on one connection (used on the I/O thread only)."""

    def __init__(self, connection: Any, ref: str) -> None:
        # Blocking calls that keep the GIL: the caller makes sure no report can arrive.
        self.ref = ref
        self._client = iec.ControlObjectClient_create(ref, connection) if _exists(connection, ref) else None
        if self._client is None:
            raise DeviceError(f"{ref} is not a controllable data object of the IED")
        self.model = CtlModel(int(iec.ControlObjectClient_getControlModel(self._client)))
        spec, error = iec.IedConnection_getVariableSpecification(connection, ref, iec.IEC61850_FC_CO)
        if error != iec.IED_ERROR_OK or spec is None:
            self.destroy()
            raise DeviceError(
                f"cannot read the control structure of {ref}: {iec.IedClientError_toString(error)}"
            )
        self._spec = spec
        self._oper = iec.MmsVariableSpecification_getNamedVariableRecursive(spec, "Oper")
        if self._oper is None:
            self.destroy()
            raise DeviceError(f"{ref} has no Oper structure")
        self._names = [
            iec.MmsVariableSpecification_getName(
                iec.MmsVariableSpecification_getChildSpecificationByIndex(self._oper, i)
            )
            for i in range(iec.MmsVariableSpecification_getSize(self._oper))
        ]
        self._ctl_num = 0

    def destroy(self) -> None:
        """Free the native objects (before the connection is destroyed)."""
        if self._client is not None:
            iec.ControlObjectClient_destroy(self._client)
            self._client = None
        spec = getattr(self, "_spec", None)
        if spec is not None:
            iec.MmsVariableSpecification_destroy(spec)
            self._spec = None

    def operate(
        self,
        connection: Any,
        value: float,
        *,
        test: bool = False,
        interlock_check: bool = False,
        synchro_check: bool = False,
        origin: str = "evgrid",
    ) -> None:
        """Select (if the model says so) and operate; WriteRejected names the AddCause."""
        if self.model is CtlModel.STATUS_ONLY:
            raise WriteRejected(
                f"{self.ref} is status-only", ref=self.ref, add_cause=AddCause.NOT_SUPPORTED.label
            )
        self._ctl_num = (self._ctl_num + 1) % 256
        parameters = self._parameters(value, test, interlock_check, synchro_check, origin)
        try:
            if self.model is CtlModel.SBO_ENHANCED:
                self._write(connection, "SBOw", parameters)
            elif self.model is CtlModel.SBO_NORMAL:
                self._select(connection)
            self._write(connection, "Oper", parameters)
        finally:
            iec.MmsValue_delete(parameters)

    def _select(self, connection: Any) -> None:
        selected, error = iec.pyWrap_IedConnection_readObject(
            connection, f"{self.ref}.SBO", iec.IEC61850_FC_CO
        )
        try:
            _raise_unreachable(error, self.ref)
            if error != iec.IED_ERROR_OK or selected is None or not iec.MmsValue_toString(selected):
                raise WriteRejected(
                    f"select of {self.ref} refused", ref=self.ref, add_cause=AddCause.SELECT_FAILED.label
                )
        finally:
            iec.MmsValue_delete(selected)

    def _write(self, connection: Any, element: str, parameters: Any) -> None:
        _result, error = iec.pyWrap_IedConnection_writeObject(
            connection, f"{self.ref}.{element}", iec.IEC61850_FC_CO, parameters
        )
        _raise_unreachable(error, self.ref)
        if error == iec.IED_ERROR_OK:
            return
        # libiec61850 delivers LastApplError before the write response, so it is here.
        last = iec.ControlObjectClient_getLastApplError(self._client)
        cause = (
            AddCause.from_code(int(last.addCause)) if int(last.ctlNum) == self._ctl_num else AddCause.UNKNOWN
        )
        raise WriteRejected(
            f"{element} of {self.ref} rejected ({iec.IedClientError_toString(error)}, AddCause {cause.label})",
            ref=self.ref,
            add_cause=cause.label,
        )

    def _parameters(self, value: float, test: bool, interlock: bool, synchro: bool, origin: str) -> Any:
        parameters = iec.MmsValue_newDefaultValue(self._oper)
        for index, name in enumerate(self._names):
            element = iec.MmsValue_getElement(parameters, index)
            if name == "ctlVal":
                _set_scalar(element, value)
            elif name == "origin":
                iec.MmsValue_setInt32(iec.MmsValue_getElement(element, 0), ORCAT_REMOTE_CONTROL)
                identity = octets(origin.encode("ascii", "replace")[:64], 64)
                iec.MmsValue_update(iec.MmsValue_getElement(element, 1), identity)
                iec.MmsValue_delete(identity)
            elif name == "ctlNum":
                iec.MmsValue_setUint8(element, self._ctl_num)
            elif name == "T":
                iec.MmsValue_setUtcTimeMs(element, int(time.time() * 1000))
            elif name == "Test":
                iec.MmsValue_setBoolean(element, test)
            elif name == "Check":
                iec.MmsValue_setBitStringBit(element, 1, interlock)
                iec.MmsValue_setBitStringBit(element, 0, synchro)
        return parameters


def _exists(connection: Any, ref: str) -> bool:
    value, error = iec.pyWrap_IedConnection_readObject(connection, f"{ref}.ctlModel", iec.IEC61850_FC_CF)
    iec.MmsValue_delete(value)
    _raise_unreachable(error, ref)
    return bool(error == iec.IED_ERROR_OK)


def _set_scalar(element: Any, value: float) -> None:
    kind = iec.MmsValue_getType(element)
    if kind == iec.MMS_BOOLEAN:
        iec.MmsValue_setBoolean(element, bool(value))
    elif kind == iec.MMS_INTEGER:
        iec.MmsValue_setInt32(element, int(value))
    elif kind == iec.MMS_UNSIGNED:
        iec.MmsValue_setUint32(element, int(value))
    elif kind == iec.MMS_FLOAT:
        iec.MmsValue_setFloat(element, float(value))
    elif kind == iec.MMS_BIT_STRING:
        iec.Dbpos_toMmsValue(element, int(value))
    elif kind == iec.MMS_STRUCTURE:  # analogue setpoint (APC): setMag.f or setMag.i
        _set_scalar(iec.MmsValue_getElement(element, 0), value)
    else:
        raise DeviceError(f"unsupported ctlVal type {iec.MmsValue_getTypeString(element)}")


def _raise_unreachable(error: int, ref: str) -> None:
    if error in CONNECTION_ERRORS:
        raise DeviceUnreachable(
            f"IED unreachable while operating {ref}: {iec.IedClientError_toString(error)}"
        )
