"""libiec61850 dynamic model built from SCL (no server is started here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evgrid.adapters.iec61850 import model, scl
from evgrid.errors import SclError, SclUnsupported
from evgrid.mappings import iec61850_refs as refs
from evgrid.mappings.iec61850_refs import CtlModel
from evgrid.sim.devices.ied import plan_ied

SCL_DIR = Path(__file__).resolve().parents[4] / "evgrid" / "schemas" / "scl"
EXAMPLES = ("Pampus.icd", "WAGO123.icd", "beagle_demo_FSCH.icd", "inverter3ph.icd")


def _build(path: Path) -> model.BuiltModel:
    document = scl.load(path)
    ied = document.ied()
    return model.build(ied.name, model.plans_for(ied, document.templates))


def test_evse_model_indexes_every_reference_evgrid_uses() -> None:
    built = _build(SCL_DIR / "evse.icd")
    try:
        ld = refs.station_ld()
        station_refs = [
            *refs.EV_STATE_MEMBERS,
            *refs.SWITCH_MEMBERS,
            *refs.MEASURE_MEMBERS,
            refs.CONTACTOR_CTL_MODEL,
            refs.STATION_RATED_W,
            refs.STATION_PHV_A,
            refs.POWER_UPS,
            refs.SWITCH_OP_COUNT,
        ]
        for ref in station_refs:
            assert ref.at(ld) in built.attributes, ref
        assert built.controls == {refs.CONTACTOR.at(ld): CtlModel.SBO_ENHANCED,
                                  refs.POWER_LIMIT.at(ld): CtlModel.DIRECT_NORMAL}
        assert built.initial[refs.STATION_RATED_W.at(ld)] == "11000"
        assert built.attribute(refs.CONN_ST.at(ld)).enum == {"A": 1, "B": 2, "C": 3, "D": 4, "E": 5, "F": 6}
    finally:
        built.destroy()


def test_meter_model() -> None:
    built = _build(SCL_DIR / "meter.icd")
    try:
        for ref in refs.ENERGY_MEMBERS:
            assert ref.at(refs.meter_ld()) in built.attributes
        assert built.attribute(refs.METER_TOTWH.at(refs.meter_ld())).definition.btype == "INT64"
    finally:
        built.destroy()


@pytest.mark.parametrize("name", EXAMPLES)
def test_reference_icds_build(name: str, reference_dir: Path) -> None:
    built = _build(reference_dir / "iec61850" / "icd-examples" / name)
    try:
        assert len(built.attributes) > 50
    finally:
        built.destroy()


def test_beagle_controls_keep_their_declared_models(reference_dir: Path) -> None:
    built = _build(reference_dir / "iec61850" / "icd-examples" / "beagle_demo_FSCH.icd")
    try:
        assert built.controls["TemplateGenericIO/GGIO1.SPCSO1"] == CtlModel.DIRECT_NORMAL
        assert built.controls["TemplateGenericIO/GGIO1.DPCSO1"] == CtlModel.DIRECT_NORMAL
    finally:
        built.destroy()


def test_gateway_plan_pairs_stations_and_meters() -> None:
    plan = plan_ied(SCL_DIR / "evse.icd", stations=3)
    assert plan.station_lds == [refs.station_ld(i) for i in (1, 2, 3)]
    assert plan.meter_lds == [refs.meter_ld(i, ied=refs.STATION_IED) for i in (1, 2, 3)]
    built = model.build(plan.ied_name, plan.devices)
    try:
        assert refs.CONTACTOR.at(refs.station_ld(3)) in built.controls
        assert refs.METER_TOTWH.at(refs.meter_ld(2, ied=refs.STATION_IED)) in built.attributes
        assert built.lds == (
            "EVSESTA0001",
            "EVSEMTR0001",
            "EVSESTA0002",
            "EVSEMTR0002",
            "EVSESTA0003",
            "EVSEMTR0003",
        )
    finally:
        built.destroy()


def test_renamed_ied() -> None:
    plan = plan_ied(SCL_DIR / "evse.icd", name="EVSE0042")
    assert plan.station_lds == ["EVSE0042STA"]


def test_gateway_needs_a_station_icd() -> None:
    with pytest.raises(SclError, match="gateway mode needs a station"):
        plan_ied(SCL_DIR / "meter.icd", stations=2)


def _document(da: str) -> scl.SclDocument:
    return scl.parse(
        f"""<SCL xmlns="http://www.iec.ch/61850/2003/SCL">
  <IED name="T"><AccessPoint name="AP"><Server><LDevice inst="LD">
    <LN0 lnClass="LLN0" inst="" lnType="L"/></LDevice></Server></AccessPoint></IED>
  <DataTypeTemplates>
    <LNodeType id="L" lnClass="LLN0"><DO name="X" type="D"/></LNodeType>
    <DOType id="D" cdc="INS">{da}</DOType>
    <DAType id="S"><BDA name="f" bType="FLOAT32"/></DAType>
  </DataTypeTemplates></SCL>""".encode()
    )


@pytest.mark.parametrize(
    ("da", "message"),
    [
        ('<DA name="stVal" fc="ST" bType="INT24"/>', "bType 'INT24'"),
        ('<DA name="v" fc="ST" bType="Struct" type="S" count="3"/>', "arrays of constructed attributes"),
        ('<DA name="stVal" fc="XX" bType="INT32"/>', "functional constraint 'XX'"),
    ],
)
def test_unsupported_types_are_named(da: str, message: str) -> None:
    document = _document(da)
    with pytest.raises(SclUnsupported, match=message):
        model.build("T", model.plans_for(document.ied(), document.templates))


def test_bad_initial_value_is_named() -> None:
    document = _document('<DA name="stVal" fc="ST" bType="INT32"><Val>ten</Val></DA>')
    with pytest.raises(SclError, match=r"initial value 'ten' of TLD/LLN0.X.stVal"):
        model.build("T", model.plans_for(document.ied(), document.templates))
