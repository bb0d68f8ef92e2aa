"""SCL (IEC 61850-6) reader: an ICD/CID file into plain, frozen dataclasses.

Only what a server data model needs is read: the IEDs' logical devices with their
logical nodes, data sets, report control blocks and instance values (DOI/SDI/DAI), and
the DataTypeTemplates (LNodeType, DOType with nested SDOs, DAType with BDAs, EnumType).
Everything is resolved and checked here, so the model builder never meets a dangling
type reference. Constructs evgrid does not serve (GOOSE, sampled values, setting
groups, logs) are refused with :class:`SclUnsupported` naming the element and line,
instead of being silently dropped. The XSD is not applied here: real vendor ICDs often
carry an older SCL edition; ``tests/contract`` validates evgrid's own ICDs.
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from evgrid.adapters.iec61850.scl_types import (
    AttributeDef,
    DataSetDef,
    DAType,
    DOType,
    EnumType,
    Fcda,
    IedDef,
    LNodeType,
    LogicalDeviceDef,
    LogicalNodeDef,
    ReportControlDef,
    SclDocument,
    SubObjectDef,
    Templates,
    walk_attributes,
)
from evgrid.errors import SclError, SclUnsupported

__all__ = [
    "AttributeDef",
    "DAType",
    "DOType",
    "DataSetDef",
    "EnumType",
    "Fcda",
    "IedDef",
    "LNodeType",
    "LogicalDeviceDef",
    "LogicalNodeDef",
    "ReportControlDef",
    "SclDocument",
    "SclError",
    "SclUnsupported",
    "SubObjectDef",
    "Templates",
    "load",
    "parse",
    "walk_attributes",
]

NS = "http://www.iec.ch/61850/2003/SCL"
_Q = "{" + NS + "}"

# Elements the MMS server cannot honour: refused rather than guessed at.
_UNSUPPORTED = {
    "GSEControl": "GOOSE publishing",
    "SampledValueControl": "sampled values",
    "SettingControl": "setting groups",
    "LogControl": "logging",
    "Log": "logging",
}


def _parser() -> etree.XMLParser:
    # Same hardening as the CIM codec: no DTD, no entities, no network.
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True, huge_tree=False
    )


def load(path: str | Path) -> SclDocument:
    """Parse an SCL file into a checked :class:`SclDocument`."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SclError(f"cannot read SCL file {path}: {exc.strerror}") from exc
    return parse(data, source=str(path))


def parse(data: bytes, *, source: str = "<scl>") -> SclDocument:
    """Parse SCL bytes into a checked :class:`SclDocument`."""
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise SclError(f"{source} is not well-formed XML: {exc}") from exc
    if root.tag != _Q + "SCL":
        raise SclError(f"{source} is not SCL: root element is {etree.QName(root).localname!r}", element="SCL")
    for element in root.iter():
        if isinstance(element.tag, str) and etree.QName(element).localname in _UNSUPPORTED:
            name = etree.QName(element).localname
            raise SclUnsupported(
                f"{source}: {_UNSUPPORTED[name]} is not served by evgrid's IED",
                element=_describe(element),
                line=element.sourceline,
            )
    templates = _templates(root.find(_Q + "DataTypeTemplates"), source)
    ieds = tuple(_ied(e, source) for e in root.iterfind(_Q + "IED"))
    document = SclDocument(source=source, ieds=ieds, templates=templates)
    _check_references(root, document)
    return document


def _describe(element: etree._Element) -> str:
    name = element.get("name") or element.get("inst") or element.get("id")
    local = etree.QName(element).localname
    return f"{local} {name!r}" if name else local


def _required(element: etree._Element, attribute: str) -> str:
    value = element.get(attribute)
    if value is None or value == "":
        raise SclError(
            f"missing attribute {attribute!r}", element=_describe(element), line=element.sourceline
        )
    return value


def _int(element: etree._Element, attribute: str, default: int = 0) -> int:
    raw = element.get(attribute)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SclError(
            f"attribute {attribute}={raw!r} is not an integer",
            element=_describe(element),
            line=element.sourceline,
        ) from None


def _bool(element: etree._Element | None, attribute: str, default: bool = False) -> bool:
    if element is None:
        return default
    raw = element.get(attribute)
    return default if raw is None else raw.strip().lower() in ("true", "1")


def _val(element: etree._Element) -> str | None:
    vals = element.findall(_Q + "Val")
    for val in vals:
        if val.get("sGroup") is not None:
            raise SclUnsupported(
                "setting-group values (Val sGroup) are not served",
                element=_describe(element),
                line=val.sourceline,
            )
    return (vals[0].text or "").strip() if vals else None


def _attribute(element: etree._Element, *, is_da: bool) -> AttributeDef:
    return AttributeDef(
        name=_required(element, "name"),
        btype=_required(element, "bType"),
        type_id=element.get("type") or None,
        fc=_required(element, "fc") if is_da else None,
        dchg=_bool(element, "dchg"),
        qchg=_bool(element, "qchg"),
        dupd=_bool(element, "dupd"),
        count=_int(element, "count"),
        value=_val(element),
    )


def _templates(section: etree._Element | None, source: str) -> Templates:
    if section is None:
        raise SclError(f"{source} has no DataTypeTemplates", element="DataTypeTemplates")
    ln_types: dict[str, LNodeType] = {}
    do_types: dict[str, DOType] = {}
    da_types: dict[str, DAType] = {}
    enum_types: dict[str, EnumType] = {}
    for e in section.iterfind(_Q + "LNodeType"):
        dos = tuple(SubObjectDef(_required(d, "name"), _required(d, "type")) for d in e.iterfind(_Q + "DO"))
        ln_types[_required(e, "id")] = LNodeType(_required(e, "id"), _required(e, "lnClass"), dos)
    for e in section.iterfind(_Q + "DOType"):
        children: list[SubObjectDef | AttributeDef] = []
        for child in e:
            local = etree.QName(child).localname if isinstance(child.tag, str) else ""
            if local == "SDO":
                children.append(
                    SubObjectDef(_required(child, "name"), _required(child, "type"), _int(child, "count"))
                )
            elif local == "DA":
                children.append(_attribute(child, is_da=True))
        do_types[_required(e, "id")] = DOType(_required(e, "id"), e.get("cdc", ""), tuple(children))
    for e in section.iterfind(_Q + "DAType"):
        bdas = tuple(_attribute(b, is_da=False) for b in e.iterfind(_Q + "BDA"))
        da_types[_required(e, "id")] = DAType(_required(e, "id"), bdas)
    for e in section.iterfind(_Q + "EnumType"):
        values = {(v.text or "").strip(): _int(v, "ord") for v in e.iterfind(_Q + "EnumVal")}
        enum_types[_required(e, "id")] = EnumType(_required(e, "id"), values)
    return Templates(ln_types, do_types, da_types, enum_types)


def _ied(element: etree._Element, source: str) -> IedDef:
    name = _required(element, "name")
    devices = tuple(
        _ldevice(ld, source) for ld in element.iterfind(f"{_Q}AccessPoint/{_Q}Server/{_Q}LDevice")
    )
    return IedDef(name, devices)


def _ldevice(element: etree._Element, source: str) -> LogicalDeviceDef:
    inst = _required(element, "inst")
    ln0 = element.find(_Q + "LN0")
    if ln0 is None:
        raise SclError(f"{source}: LDevice has no LN0", element=_describe(element), line=element.sourceline)
    nodes = [_lnode(ln0, inst, is_ln0=True)]
    nodes.extend(_lnode(ln, inst, is_ln0=False) for ln in element.iterfind(_Q + "LN"))
    return LogicalDeviceDef(inst, tuple(nodes))


def _lnode(element: etree._Element, ld_inst: str, *, is_ln0: bool) -> LogicalNodeDef:
    ln_class = _required(element, "lnClass")
    name = "LLN0" if is_ln0 else f"{element.get('prefix', '')}{ln_class}{element.get('inst', '')}"
    datasets = tuple(_dataset(ds, ld_inst) for ds in element.iterfind(_Q + "DataSet"))
    reports = tuple(_report(rc) for rc in element.iterfind(_Q + "ReportControl"))
    values: dict[str, str] = {}
    for doi in element.iterfind(_Q + "DOI"):
        _instance_values(doi, _required(doi, "name"), values)
    return LogicalNodeDef(name, ln_class, _required(element, "lnType"), datasets, reports, values)


def _instance_values(element: etree._Element, path: str, out: dict[str, str]) -> None:
    for child in element:
        if not isinstance(child.tag, str):
            continue
        local = etree.QName(child).localname
        if local not in ("SDI", "DAI"):
            continue
        if child.get("ix") is not None:
            raise SclUnsupported(
                "instance values of array elements (ix) are not supported",
                element=_describe(child),
                line=child.sourceline,
            )
        child_path = f"{path}.{_required(child, 'name')}"
        if local == "SDI":
            _instance_values(child, child_path, out)
        else:
            value = _val(child)
            if value is not None:
                out[child_path] = value


def _dataset(element: etree._Element, ld_inst: str) -> DataSetDef:
    members = []
    for f in element.iterfind(_Q + "FCDA"):
        if f.get("ix") is not None:
            raise SclUnsupported(
                "data set members of array elements (ix) are not supported",
                element=_describe(f),
                line=f.sourceline,
            )
        ln_class = _required(f, "lnClass")
        ln_name = "LLN0" if ln_class == "LLN0" else f"{f.get('prefix', '')}{ln_class}{f.get('lnInst', '')}"
        members.append(
            Fcda(
                f.get("ldInst") or ld_inst,
                ln_name,
                _required(f, "doName"),
                f.get("daName") or None,
                _required(f, "fc"),
            )
        )
    return DataSetDef(_required(element, "name"), tuple(members))


def _report(element: etree._Element) -> ReportControlDef:
    name = _required(element, "name")
    trg = element.find(_Q + "TrgOps")
    opt = element.find(_Q + "OptFields")
    enabled = element.find(_Q + "RptEnabled")
    count = _int(enabled, "max", 1) if enabled is not None else 1
    # SCL: indexed (default true) RCBs with max > 1 exist as name01..nameNN.
    indexed = _bool(element, "indexed", default=True)
    instances = tuple(f"{name}{i:02d}" for i in range(1, count + 1)) if indexed and count > 1 else (name,)
    options = frozenset(
        k for k, v in (opt.attrib.items() if opt is not None else ()) if v.strip().lower() in ("true", "1")
    )
    return ReportControlDef(
        name=name,
        dataset=element.get("datSet") or None,
        rpt_id=element.get("rptID") or None,
        conf_rev=_int(element, "confRev"),
        buffered=_bool(element, "buffered"),
        buf_time_ms=_int(element, "bufTime"),
        intg_pd_ms=_int(element, "intgPd"),
        trg_dchg=_bool(trg, "dchg"),
        trg_qchg=_bool(trg, "qchg"),
        trg_dupd=_bool(trg, "dupd"),
        trg_period=_bool(trg, "period"),
        trg_gi=_bool(trg, "gi", default=True),
        opt_fields=options,
        instances=instances,
    )


def _check_references(root: etree._Element, document: SclDocument) -> None:
    """Every type an instance or a template uses must be defined: name the first that is not."""
    t = document.templates
    for ln in root.iter(_Q + "LN0", _Q + "LN"):
        if ln.get("lnType") not in t.ln_types:
            raise SclError(
                f"lnType {ln.get('lnType')!r} is not defined in DataTypeTemplates",
                element=_describe(ln),
                line=ln.sourceline,
            )
    for lnt in t.ln_types.values():
        for do in lnt.data_objects:
            if do.type_id not in t.do_types:
                raise SclError(
                    f"DO {do.name!r} of LNodeType {lnt.id!r} uses undefined DOType {do.type_id!r}",
                    element=f"LNodeType {lnt.id!r}",
                )
    for dot in t.do_types.values():
        for child in dot.children:
            if isinstance(child, SubObjectDef) and child.type_id not in t.do_types:
                raise SclError(
                    f"SDO {child.name!r} of DOType {dot.id!r} uses undefined DOType {child.type_id!r}",
                    element=f"DOType {dot.id!r}",
                )
            if isinstance(child, AttributeDef):
                _check_attribute(t, child, f"DOType {dot.id!r}")
    for dat in t.da_types.values():
        for bda in dat.children:
            _check_attribute(t, bda, f"DAType {dat.id!r}")


def _check_attribute(t: Templates, attribute: AttributeDef, owner: str) -> None:
    if attribute.btype == "Struct" and attribute.type_id not in t.da_types:
        raise SclError(
            f"{attribute.name!r} of {owner} uses undefined DAType {attribute.type_id!r}", element=owner
        )
    if attribute.btype == "Enum":
        enum = t.enum_types.get(attribute.type_id or "")
        if enum is None:
            raise SclError(
                f"{attribute.name!r} of {owner} uses undefined EnumType {attribute.type_id!r}", element=owner
            )
        if attribute.value is not None and attribute.value not in enum.values:
            raise SclError(
                f"value {attribute.value!r} of {attribute.name!r} is not in EnumType {enum.id!r}",
                element=owner,
            )
