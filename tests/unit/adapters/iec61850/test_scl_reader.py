"""SCL reader: evgrid's ICDs, the reference vendor/library ICDs, and what it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from evgrid.adapters.iec61850 import scl
from evgrid.errors import SclError, SclUnsupported
from evgrid.mappings import iec61850_refs as refs

SCL_DIR = Path(__file__).resolve().parents[4] / "evgrid" / "schemas" / "scl"
EXAMPLES = ("Pampus.icd", "WAGO123.icd", "beagle_demo_FSCH.icd", "inverter3ph.icd")


def _ln(document: scl.SclDocument, name: str) -> scl.LogicalNodeDef:
    return next(node for node in document.ied().devices[0].nodes if node.name == name)


def test_evse_icd_has_the_station_nodes() -> None:
    document = scl.load(SCL_DIR / "evse.icd")
    ied = document.ied()
    assert (ied.name, [d.inst for d in ied.devices]) == (refs.STATION_IED, [refs.STATION_LD_INST])
    names = {node.name for node in ied.devices[0].nodes}
    assert {"LLN0", "LPHD1", "DESE1", "DEAO1", "DEEV1", "CSWI1", "XCBR1", "MMXU1"} <= names
    assert _ln(document, "CSWI1").values["Pos.ctlModel"] == "sbo-with-enhanced-security"
    assert _ln(document, "DESE1").values["ChaPwrRtg.setMag.f"] == "11000"


def test_evse_icd_data_sets_match_the_reference_table() -> None:
    document = scl.load(SCL_DIR / "evse.icd")
    lln0 = _ln(document, "LLN0")
    datasets = {ds.name: ds for ds in lln0.datasets}
    expected = {
        "EVState": refs.EV_STATE_MEMBERS,
        "Switch": refs.SWITCH_MEMBERS,
        "Measure": refs.MEASURE_MEMBERS,
    }
    for name, members in expected.items():
        paths = [f"{m.ln_name}.{m.do_name}.{m.da_name}" for m in datasets[name].members]
        assert paths == [r.path for r in members]
        assert [m.fc for m in datasets[name].members] == [r.fc for r in members]
    rcbs = {r.name: r for r in lln0.reports}
    assert rcbs["urcbEV"].instances == ("urcbEV01", "urcbEV02", "urcbEV03")
    assert rcbs["urcbEV"].dataset == "EVState" and rcbs["urcbEV"].trg_dchg and rcbs["urcbEV"].rpt_id is None


def test_meter_icd_energy_data_set_and_64_bit_registers() -> None:
    document = scl.load(SCL_DIR / "meter.icd")
    lln0 = _ln(document, "LLN0")
    energy = lln0.datasets[0]
    assert [f"{m.ln_name}.{m.do_name}.{m.da_name}" for m in energy.members] == [
        r.path for r in refs.ENERGY_MEMBERS
    ]
    bcr = document.templates.do_types["BCR_Wh"]
    assert bcr.cdc == "BCR"
    assert {c.name: c.btype for c in bcr.children if isinstance(c, scl.AttributeDef)}["actVal"] == "INT64"


def test_nested_sdo_and_bda_are_walked() -> None:
    document = scl.load(SCL_DIR / "evse.icd")
    paths = dict(scl.walk_attributes(document.templates, "WYE_A"))
    assert paths["phsA.cVal.mag.f"].btype == "FLOAT32"
    assert paths["phsC.q"].btype == "Quality"
    oper = dict(scl.walk_attributes(document.templates, "DPC_Sbo"))
    assert oper["Oper.origin.orCat"].btype == "Enum" and oper["SBOw.Check"].btype == "Check"


@pytest.mark.parametrize("name", EXAMPLES)
def test_reference_icds_parse(name: str, reference_dir: Path) -> None:
    document = scl.load(reference_dir / "iec61850" / "icd-examples" / name)
    ied = document.ied()
    assert ied.devices and all(device.nodes[0].name == "LLN0" for device in ied.devices)
    for device in ied.devices:
        for node in device.nodes:
            assert node.ln_type in document.templates.ln_types


def test_pampus_do_level_fcda_and_arrays(reference_dir: Path) -> None:
    document = scl.load(reference_dir / "iec61850" / "icd-examples" / "Pampus.icd")
    members = [m for d in document.ied().devices for n in d.nodes for ds in n.datasets for m in ds.members]
    assert any(m.da_name is None and m.do_name == "Beh" for m in members)
    arrays = [
        c
        for t in document.templates.do_types.values()
        for c in t.children
        if isinstance(c, scl.AttributeDef) and c.count
    ]
    assert {c.count for c in arrays} == {50}


def _minimal(body: str = "", templates: str = "") -> bytes:
    return f"""<?xml version="1.0"?>
<SCL xmlns="http://www.iec.ch/61850/2003/SCL" version="2007" revision="B" release="4">
  <Header id="t"/>
  <IED name="T"><AccessPoint name="AP"><Server><Authentication/>
    <LDevice inst="LD"><LN0 lnClass="LLN0" inst="" lnType="LLN0_T">{body}</LN0></LDevice>
  </Server></AccessPoint></IED>
  <DataTypeTemplates>
    <LNodeType id="LLN0_T" lnClass="LLN0"><DO name="Beh" type="ENS_T"/></LNodeType>
    <DOType id="ENS_T" cdc="ENS"><DA name="stVal" fc="ST" bType="Enum" type="Beh"/></DOType>
    {templates}
    <EnumType id="Beh"><EnumVal ord="1">on</EnumVal></EnumType>
  </DataTypeTemplates>
</SCL>""".encode()


def test_minimal_document_parses() -> None:
    document = scl.parse(_minimal())
    assert document.ied("T").devices[0].inst == "LD"


@pytest.mark.parametrize(
    ("body", "element"),
    [
        ('<GSEControl name="gcb" datSet="x" appID="a"/>', "GSEControl 'gcb'"),
        ('<SettingControl numOfSGs="2"/>', "SettingControl"),
        ('<LogControl name="lcb" logName="l"/>', "LogControl 'lcb'"),
        ('<DOI name="Beh"><DAI name="stVal"><Val sGroup="1">on</Val></DAI></DOI>', "DAI 'stVal'"),
    ],
)
def test_unsupported_constructs_are_named(body: str, element: str) -> None:
    with pytest.raises(SclUnsupported) as info:
        scl.parse(_minimal(body))
    assert info.value.element == element
    assert info.value.line is not None


def test_undefined_type_is_named() -> None:
    broken = _minimal().replace(b'type="ENS_T"/></LNodeType>', b'type="MISSING"/></LNodeType>')
    with pytest.raises(SclError, match="undefined DOType 'MISSING'"):
        scl.parse(broken)


def test_undefined_ln_type_names_the_ln() -> None:
    broken = _minimal().replace(b'lnType="LLN0_T">', b'lnType="NOPE">')
    with pytest.raises(SclError, match="lnType 'NOPE'") as info:
        scl.parse(broken)
    assert info.value.element == "LN0"


def test_enum_value_outside_its_type() -> None:
    templates = '<DOType id="X" cdc="ENS"><DA name="stVal" fc="ST" bType="Enum" type="Beh"><Val>off</Val></DA></DOType>'
    with pytest.raises(SclError, match="'off' of 'stVal' is not in EnumType 'Beh'"):
        scl.parse(_minimal(templates=templates))


@pytest.mark.parametrize("data", [b"<SCL", b"<notscl/>", b""])
def test_not_scl(data: bytes) -> None:
    with pytest.raises(SclError):
        scl.parse(data)


def test_entities_are_not_expanded() -> None:
    hostile = b'<?xml version="1.0"?><!DOCTYPE SCL [<!ENTITY x SYSTEM "file:///etc/passwd">]><SCL xmlns="http://www.iec.ch/61850/2003/SCL">&x;</SCL>'
    with pytest.raises(SclError):
        scl.parse(hostile)


def test_choosing_an_ied() -> None:
    document = scl.parse(_minimal())
    with pytest.raises(SclError, match="no IED named 'X'"):
        document.ied("X")
