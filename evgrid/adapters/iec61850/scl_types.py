"""Plain dataclasses for the parts of an SCL file that make a server data model.

Filled by :mod:`evgrid.adapters.iec61850.scl`; read by the model builder. They carry
no lxml objects, so a parsed document can be kept, compared and tested on its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from evgrid.errors import SclError


@dataclass(frozen=True, slots=True)
class AttributeDef:
    """A DA of a DOType or a BDA of a DAType (``fc`` and triggers only on DAs)."""

    name: str
    btype: str
    type_id: str | None = None
    fc: str | None = None
    dchg: bool = False
    qchg: bool = False
    dupd: bool = False
    count: int = 0
    value: str | None = None


@dataclass(frozen=True, slots=True)
class SubObjectDef:
    """A DO of an LNodeType or an SDO of a DOType."""

    name: str
    type_id: str
    count: int = 0


@dataclass(frozen=True, slots=True)
class DOType:
    """A data object type: its children (SDOs and DAs) in declaration order."""

    id: str
    cdc: str
    children: tuple[SubObjectDef | AttributeDef, ...]


@dataclass(frozen=True, slots=True)
class DAType:
    """A constructed attribute type and its BDAs in declaration order."""

    id: str
    children: tuple[AttributeDef, ...]


@dataclass(frozen=True, slots=True)
class EnumType:
    """An enumeration: text -> ordinal."""

    id: str
    values: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class LNodeType:
    """A logical node type: class and data objects."""

    id: str
    ln_class: str
    data_objects: tuple[SubObjectDef, ...]


@dataclass(frozen=True, slots=True)
class Templates:
    """The DataTypeTemplates section, keyed by id."""

    ln_types: Mapping[str, LNodeType]
    do_types: Mapping[str, DOType]
    da_types: Mapping[str, DAType]
    enum_types: Mapping[str, EnumType]


@dataclass(frozen=True, slots=True)
class Fcda:
    """A data set member (functionally constrained data or attribute)."""

    ld_inst: str
    ln_name: str
    do_name: str
    da_name: str | None
    fc: str


@dataclass(frozen=True, slots=True)
class DataSetDef:
    """A data set of a logical node."""

    name: str
    members: tuple[Fcda, ...]


@dataclass(frozen=True, slots=True)
class ReportControlDef:
    """A report control block; ``instances`` are the names to create (indexed RCBs)."""

    name: str
    dataset: str | None
    rpt_id: str | None
    conf_rev: int
    buffered: bool
    buf_time_ms: int
    intg_pd_ms: int
    trg_dchg: bool
    trg_qchg: bool
    trg_dupd: bool
    trg_period: bool
    trg_gi: bool
    opt_fields: frozenset[str]
    instances: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LogicalNodeDef:
    """An LN0 or LN instance with its type, control blocks and instance values."""

    name: str
    ln_class: str
    ln_type: str
    datasets: tuple[DataSetDef, ...] = ()
    reports: tuple[ReportControlDef, ...] = ()
    values: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LogicalDeviceDef:
    """A logical device: its inst and logical nodes (LN0 first)."""

    inst: str
    nodes: tuple[LogicalNodeDef, ...]


@dataclass(frozen=True, slots=True)
class IedDef:
    """An IED of the SCL file with the logical devices of its server(s)."""

    name: str
    devices: tuple[LogicalDeviceDef, ...]


@dataclass(frozen=True, slots=True)
class SclDocument:
    """A parsed SCL file: its IEDs and the shared type templates."""

    source: str
    ieds: tuple[IedDef, ...]
    templates: Templates

    def ied(self, name: str | None = None) -> IedDef:
        """The IED called ``name``, or the only one when ``name`` is None."""
        if name is None:
            if len(self.ieds) != 1:
                names = ", ".join(i.name for i in self.ieds) or "none"
                raise SclError(f"{self.source} holds {len(self.ieds)} IEDs ({names}): choose one by name")
            return self.ieds[0]
        for ied in self.ieds:
            if ied.name == name:
                return ied
        raise SclError(f"{self.source} has no IED named {name!r}")


def walk_attributes(
    templates: Templates, do_type_id: str, prefix: str = ""
) -> Iterator[tuple[str, AttributeDef]]:
    """Yield (path, attribute) for every DA/BDA leaf below a DOType (SDOs included)."""
    do_type = templates.do_types[do_type_id]
    for child in do_type.children:
        if isinstance(child, SubObjectDef):
            yield from walk_attributes(templates, child.type_id, f"{prefix}{child.name}.")
        else:
            yield from _walk_da(templates, child, f"{prefix}{child.name}")


def _walk_da(templates: Templates, attribute: AttributeDef, path: str) -> Iterator[tuple[str, AttributeDef]]:
    if attribute.btype == "Struct" and attribute.type_id is not None:
        for bda in templates.da_types[attribute.type_id].children:
            yield from _walk_da(templates, bda, f"{path}.{bda.name}")
    else:
        yield path, attribute
