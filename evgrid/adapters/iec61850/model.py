"""Build a libiec61850 dynamic data model from parsed SCL.

A model is built from *device plans*: each plan names a logical device of a parsed SCL
file and the LD inst it gets in the served IED. Serving an ICD as it is uses one plan
per logical device (:func:`plans_for`); gateway mode plans the same station logical
device N times under different insts (``STA0001`` ...), together with meter logical
devices taken from another SCL file.

The result, :class:`BuiltModel`, owns the native model and indexes every leaf data
attribute by its full object reference, so the server can update values by reference
without walking the tree again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyiec61850.pyiec61850 as iec

from evgrid.adapters.iec61850.scl import AttributeDef, IedDef, LogicalDeviceDef, LogicalNodeDef, SubObjectDef, Templates
from evgrid.adapters.iec61850.values import to_mms
from evgrid.errors import SclError, SclUnsupported

log = logging.getLogger(__name__)

# SCL bType -> libiec61850 DataAttributeType. Types missing here have no libiec61850
# counterpart (INT24, Octet16, the *OptFlds of logs and SV) and are refused.
BTYPES: Mapping[str, int] = {
    "BOOLEAN": iec.IEC61850_BOOLEAN,
    "INT8": iec.IEC61850_INT8,
    "INT16": iec.IEC61850_INT16,
    "INT32": iec.IEC61850_INT32,
    "INT64": iec.IEC61850_INT64,
    "INT128": iec.IEC61850_INT128,
    "INT8U": iec.IEC61850_INT8U,
    "INT16U": iec.IEC61850_INT16U,
    "INT24U": iec.IEC61850_INT24U,
    "INT32U": iec.IEC61850_INT32U,
    "FLOAT32": iec.IEC61850_FLOAT32,
    "FLOAT64": iec.IEC61850_FLOAT64,
    "Enum": iec.IEC61850_ENUMERATED,
    "Dbpos": iec.IEC61850_CODEDENUM,
    "Tcmd": iec.IEC61850_CODEDENUM,
    "Quality": iec.IEC61850_QUALITY,
    "Timestamp": iec.IEC61850_TIMESTAMP,
    "VisString32": iec.IEC61850_VISIBLE_STRING_32,
    "VisString64": iec.IEC61850_VISIBLE_STRING_64,
    "VisString65": iec.IEC61850_VISIBLE_STRING_65,
    "VisString129": iec.IEC61850_VISIBLE_STRING_129,
    "VisString255": iec.IEC61850_VISIBLE_STRING_255,
    "ObjRef": iec.IEC61850_VISIBLE_STRING_129,
    "Unicode255": iec.IEC61850_UNICODE_STRING_255,
    "Octet64": iec.IEC61850_OCTET_STRING_64,
    "Octet6": iec.IEC61850_OCTET_STRING_6,
    "EntryID": iec.IEC61850_OCTET_STRING_8,
    "Struct": iec.IEC61850_CONSTRUCTED,
    "Check": iec.IEC61850_CHECK,
    "EntryTime": iec.IEC61850_ENTRY_TIME,
    "Currency": iec.IEC61850_CURRENCY,
    "PhyComAddr": iec.IEC61850_PHYCOMADDR,
    "TrgOps": iec.IEC61850_TRGOPS,
    "OptFlds": iec.IEC61850_OPTFLDS,
}

FCS: Mapping[str, int] = {
    name: getattr(iec, f"IEC61850_FC_{name}")
    for name in ("ST", "MX", "SP", "SV", "CF", "DC", "SG", "SE", "SR", "OR", "BL", "EX", "CO")
}

_OPT_FIELDS = {
    "seqNum": iec.RPT_OPT_SEQ_NUM,
    "timeStamp": iec.RPT_OPT_TIME_STAMP,
    "reasonCode": iec.RPT_OPT_REASON_FOR_INCLUSION,
    "dataSet": iec.RPT_OPT_DATA_SET,
    "dataRef": iec.RPT_OPT_DATA_REFERENCE,
    "bufOvfl": iec.RPT_OPT_BUFFER_OVERFLOW,
    "entryID": iec.RPT_OPT_ENTRY_ID,
    "configRef": iec.RPT_OPT_CONF_REV,
}


@dataclass(frozen=True, slots=True)
class DevicePlan:
    """One logical device of the served IED: where it comes from and its inst there."""

    device: LogicalDeviceDef
    templates: Templates
    inst: str


@dataclass(frozen=True, slots=True)
class Attribute:
    """A leaf data attribute of the built model."""

    handle: Any
    definition: AttributeDef
    enum: Mapping[str, int] | None


@dataclass(slots=True)
class BuiltModel:
    """A native libiec61850 model plus an index of its attributes and controls."""

    ied_name: str
    handle: Any
    attributes: dict[str, Attribute] = field(default_factory=dict)
    controls: dict[str, int] = field(default_factory=dict)
    lds: tuple[str, ...] = ()
    initial: dict[str, str] = field(default_factory=dict)

    def attribute(self, ref: str) -> Attribute:
        """The attribute at full object reference ``ref``; KeyError names it when absent."""
        try:
            return self.attributes[ref]
        except KeyError:
            raise KeyError(f"no data attribute {ref!r} in IED {self.ied_name!r}") from None

    def destroy(self) -> None:
        """Free the native model (after the server using it is destroyed)."""
        if self.handle is not None:
            iec.IedModel_destroy(self.handle)
            self.handle = None


def plans_for(ied: IedDef, templates: Templates) -> list[DevicePlan]:
    """Plans serving every logical device of ``ied`` under its own inst."""
    return [DevicePlan(device, templates, device.inst) for device in ied.devices]


def build(ied_name: str, plans: Sequence[DevicePlan]) -> BuiltModel:
    """Create the native model for ``plans``; SclError/SclUnsupported name what failed."""
    if not plans:
        raise SclError(f"IED {ied_name!r} has no logical device to serve")
    handle = iec.IedModel_create(ied_name)
    iec.IedModel_setIedNameForDynamicModel(handle, ied_name)
    built = BuiltModel(ied_name, handle, lds=tuple(f"{ied_name}{p.inst}" for p in plans))
    try:
        for plan in plans:
            _device(built, plan)
        _apply_initial_values(built)
    except Exception:
        built.destroy()
        raise
    return built


def _device(built: BuiltModel, plan: DevicePlan) -> None:
    ld_name = f"{built.ied_name}{plan.inst}"
    ld = iec.LogicalDevice_create(plan.inst, built.handle)
    lns: dict[str, Any] = {}
    for node in plan.device.nodes:
        ln_type = plan.templates.ln_types[node.ln_type]
        ln = iec.LogicalNode_create(node.name, ld)
        lns[node.name] = ln
        for do in ln_type.data_objects:
            _data_object(
                built, plan.templates, do, iec.toModelNode(ln), f"{ld_name}/{node.name}.{do.name}", node
            )
    for node in plan.device.nodes:
        _control_blocks(node, lns[node.name], plan)


def _data_object(
    built: BuiltModel, t: Templates, do: SubObjectDef, parent: Any, ref: str, node: LogicalNodeDef
) -> None:
    if do.count:
        raise SclUnsupported(
            f"arrays of data objects ({ref}[{do.count}]) are not supported", element=f"SDO {do.name!r}"
        )
    do_type = t.do_types[do.type_id]
    handle = iec.DataObject_create(do.name, parent, 0)
    node_ref = iec.toModelNode(handle)
    for child in do_type.children:
        if isinstance(child, SubObjectDef):
            _data_object(built, t, child, node_ref, f"{ref}.{child.name}", node)
        else:
            _data_attribute(
                built, t, child, node_ref, f"{ref}.{child.name}", child.fc or "", _triggers(child), node
            )
            if child.name == "Oper" and child.fc == "CO":
                built.controls[ref] = 0  # ctlModel filled in from values below


def _triggers(attribute: AttributeDef) -> int:
    return (
        (iec.TRG_OPT_DATA_CHANGED if attribute.dchg else 0)
        | (iec.TRG_OPT_QUALITY_CHANGED if attribute.qchg else 0)
        | (iec.TRG_OPT_DATA_UPDATE if attribute.dupd else 0)
    )


def _data_attribute(
    built: BuiltModel,
    t: Templates,
    attribute: AttributeDef,
    parent: Any,
    ref: str,
    fc: str,
    trg: int,
    node: LogicalNodeDef,
) -> None:
    da_type = BTYPES.get(attribute.btype)
    if da_type is None:
        raise SclUnsupported(
            f"bType {attribute.btype!r} of {ref} has no libiec61850 type", element=f"DA {attribute.name!r}"
        )
    if fc not in FCS:
        raise SclUnsupported(
            f"functional constraint {fc!r} of {ref} is not supported", element=f"DA {attribute.name!r}"
        )
    if attribute.count and attribute.btype == "Struct":
        raise SclUnsupported(
            f"arrays of constructed attributes ({ref}[{attribute.count}]) are not supported",
            element=f"DA {attribute.name!r}",
        )
    # Children of a constructed attribute share its FC and trigger options (IEC 61850-7-2).
    handle = iec.DataAttribute_create(attribute.name, parent, da_type, FCS[fc], trg, attribute.count, 0)
    if attribute.btype == "Struct":
        # The binding has no DataAttribute* -> ModelNode* cast: look the new node up.
        as_node = iec.ModelNode_getChildWithFc(parent, attribute.name, FCS[fc])
        for bda in t.da_types[attribute.type_id or ""].children:
            _data_attribute(built, t, bda, as_node, f"{ref}.{bda.name}", fc, trg, node)
        return
    enum = t.enum_types[attribute.type_id].values if attribute.btype == "Enum" and attribute.type_id else None
    built.attributes[ref] = Attribute(handle, attribute, enum)
    relative = ref.split(".", 1)[1]
    value = node.values.get(relative, attribute.value)
    if value is not None:
        built.initial[ref] = value


def _apply_initial_values(built: BuiltModel) -> None:
    for ref, text in built.initial.items():
        attribute = built.attributes[ref]
        try:
            mms = to_mms(attribute.definition.btype, text, attribute.enum)
        except ValueError as exc:
            raise SclError(f"initial value {text!r} of {ref}: {exc}", element=f"Val of {ref}") from None
        if mms is None:
            log.debug("initial value of %s (%s) left to the server default", ref, attribute.definition.btype)
            continue
        iec.DataAttribute_setValue(attribute.handle, mms)
        iec.MmsValue_delete(mms)
    for do_ref in built.controls:
        text = built.initial.get(f"{do_ref}.ctlModel")
        enum = (
            built.attributes[f"{do_ref}.ctlModel"].enum if f"{do_ref}.ctlModel" in built.attributes else None
        )
        if text is not None and enum is not None and text in enum:
            built.controls[do_ref] = enum[text]
        elif text is not None and text.isdigit():
            built.controls[do_ref] = int(text)


def _control_blocks(node: LogicalNodeDef, ln: Any, plan: DevicePlan) -> None:
    for dataset in node.datasets:
        ds = iec.DataSet_create(dataset.name, ln)
        for member in dataset.members:
            iec.DataSetEntry_create(
                ds,
                _entry_variable(
                    member.ld_inst, plan, member.ln_name, member.fc, member.do_name, member.da_name
                ),
                -1,
                None,
            )
    for rcb in node.reports:
        trg = (
            (iec.TRG_OPT_DATA_CHANGED if rcb.trg_dchg else 0)
            | (iec.TRG_OPT_QUALITY_CHANGED if rcb.trg_qchg else 0)
            | (iec.TRG_OPT_DATA_UPDATE if rcb.trg_dupd else 0)
            | (iec.TRG_OPT_INTEGRITY if rcb.trg_period else 0)
            | (iec.TRG_OPT_GI if rcb.trg_gi else 0)
        )
        options = 0
        for name in rcb.opt_fields:
            options |= _OPT_FIELDS.get(name, 0)
        for instance in rcb.instances:
            iec.ReportControlBlock_create(
                instance,
                ln,
                rcb.rpt_id,
                rcb.buffered,
                rcb.dataset,
                rcb.conf_rev,
                trg,
                options,
                rcb.buf_time_ms,
                rcb.intg_pd_ms,
            )


def _entry_variable(ld_inst: str, plan: DevicePlan, ln: str, fc: str, do: str, da: str | None) -> str:
    # MMS variable name of an FCDA ("LN$FC$DO$DA"); members of the planned LD itself go
    # without an LD prefix, so a cloned gateway LD points at its own data.
    variable = f"{ln}${fc}${do.replace('.', '$')}" + (f"${da.replace('.', '$')}" if da else "")
    if ld_inst == plan.device.inst:
        return variable
    return f"{ld_inst}/{variable}"


def iter_refs(built: BuiltModel, ld: str) -> Iterator[str]:
    """Every attribute reference of logical device ``ld`` (for diagnostics and tests)."""
    prefix = f"{ld}/"
    return (ref for ref in built.attributes if ref.startswith(prefix))
