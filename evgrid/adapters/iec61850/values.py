"""Conversions between SCL text, Python values and libiec61850 MmsValues.

Server and client share these so both sides read a value the same way: booleans,
integers, floats, strings, bytes, aware UTC datetimes, and lists for structures and
arrays. Dbpos and other 2-bit coded enums come out as their integer code.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pyiec61850.pyiec61850 as iec

Value = bool | int | float | str | bytes | datetime | list[Any] | None

_DBPOS = {"intermediate-state": 0, "off": 1, "on": 2, "bad-state": 3}
_TCMD = {"stop": 0, "lower": 1, "higher": 2, "reserved": 3}
_SIGNED = {
    "INT8": iec.MmsValue_newIntegerFromInt8,
    "INT16": iec.MmsValue_newIntegerFromInt16,
    "INT32": iec.MmsValue_newIntegerFromInt32,
    "INT64": iec.MmsValue_newIntegerFromInt64,
}
_UNSIGNED_BITS = {"INT8U": 8, "INT16U": 16, "INT24U": 24, "INT32U": 32}


def to_mms(btype: str, text: str, enum: Mapping[str, int] | None = None) -> Any:
    """A new MmsValue for SCL value ``text`` of basic type ``btype``.

    Returns None for types whose SCL value evgrid leaves to the server default
    (Quality, Timestamp, Check and the control-block types). Raises ValueError when
    the text does not fit the type.
    """
    text = text.strip()
    if btype == "BOOLEAN":
        if text.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"not a BOOLEAN: {text!r}")
        return iec.MmsValue_newBoolean(text.lower() in ("true", "1"))
    if btype in _SIGNED:
        return _SIGNED[btype](int(text))
    if btype in _UNSIGNED_BITS:
        value = iec.MmsValue_newUnsigned(_UNSIGNED_BITS[btype])
        iec.MmsValue_setUint32(value, int(text))
        return value
    if btype == "FLOAT32":
        return iec.MmsValue_newFloat(float(text))
    if btype == "FLOAT64":
        return iec.MmsValue_newDouble(float(text))
    if btype == "Enum":
        if enum is not None and text in enum:
            return iec.MmsValue_newIntegerFromInt8(enum[text])
        if text.lstrip("-").isdigit():
            return iec.MmsValue_newIntegerFromInt8(int(text))
        raise ValueError(f"{text!r} is not a value of the enumeration")
    if btype in ("Dbpos", "Tcmd"):
        table = _DBPOS if btype == "Dbpos" else _TCMD
        if text not in table:
            raise ValueError(f"{text!r} is not a {btype} value ({', '.join(table)})")
        bits = iec.MmsValue_newBitString(2)
        iec.Dbpos_toMmsValue(bits, table[text])
        return bits
    if btype.startswith("VisString") or btype == "ObjRef":
        return iec.MmsValue_newVisibleString(text)
    if btype == "Unicode255":
        return iec.MmsValue_newMmsString(text)
    if btype in ("Octet64", "Octet6"):
        return octets(text.encode("utf-8"), 64 if btype == "Octet64" else 6)
    return None


def octets(data: bytes, max_size: int) -> Any:
    """A new MmsValue octet string holding ``data``."""
    if len(data) > max_size:
        raise ValueError(f"{len(data)} octets do not fit an octet string of {max_size}")
    value = iec.MmsValue_newOctetString(0, max_size)
    # The binding cannot pass a buffer: set the octets one by one.
    for position, octet in enumerate(data):
        iec.MmsValue_setOctetStringOctet(value, position, octet)
    return value


def from_mms(value: Any) -> Value:
    """The Python value of an MmsValue (structures and arrays become lists)."""
    if value is None:
        return None
    kind = iec.MmsValue_getType(value)
    if kind == iec.MMS_BOOLEAN:
        return bool(iec.MmsValue_getBoolean(value))
    if kind == iec.MMS_INTEGER:
        return int(iec.MmsValue_toInt64(value))
    if kind == iec.MMS_UNSIGNED:
        return int(iec.MmsValue_toUint32(value))
    if kind == iec.MMS_FLOAT:
        return float(iec.MmsValue_toDouble(value))
    if kind in (iec.MMS_VISIBLE_STRING, iec.MMS_STRING):
        return str(iec.MmsValue_toString(value) or "")
    if kind == iec.MMS_BIT_STRING:
        if iec.MmsValue_getBitStringSize(value) == 2:
            return int(iec.Dbpos_fromMmsValue(value))
        return int(iec.MmsValue_getBitStringAsInteger(value))
    if kind == iec.MMS_UTC_TIME:
        return datetime.fromtimestamp(iec.MmsValue_getUtcTimeInMs(value) / 1000, tz=UTC)
    if kind == iec.MMS_BINARY_TIME:
        return datetime.fromtimestamp(iec.MmsValue_getBinaryTimeAsUtcMs(value) / 1000, tz=UTC)
    if kind == iec.MMS_OCTET_STRING:
        size = iec.MmsValue_getOctetStringSize(value)
        return bytes(iec.MmsValue_getOctetStringOctet(value, i) for i in range(size))
    if kind in (iec.MMS_STRUCTURE, iec.MMS_ARRAY):
        return [from_mms(iec.MmsValue_getElement(value, i)) for i in range(iec.MmsValue_getArraySize(value))]
    if kind == iec.MMS_DATA_ACCESS_ERROR:
        raise LookupError(f"data access error {iec.MmsValue_getDataAccessError(value)}")
    raise TypeError(f"unsupported MMS type {iec.MmsValue_getTypeString(value)}")


def utc_ms(moment: datetime) -> int:
    """Milliseconds since the epoch of an aware datetime (what MMS UtcTime carries)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: evgrid times are aware UTC")
    return round(moment.timestamp() * 1000)
