"""evgrid's own ICDs validate against the IEC 61850-6 SCL schema (edition 2.1, 2007B4)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

SCL_DIR = Path(__file__).resolve().parents[2] / "evgrid" / "schemas" / "scl"
ICDS = sorted(SCL_DIR.glob("*.icd"))


@pytest.fixture(scope="module")
def scl_schema(reference_dir: Path) -> etree.XMLSchema:
    """The SCL 2007B4 schema from ../shared/reference (never copied into the project)."""
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return etree.XMLSchema(etree.parse(str(reference_dir / "iec61850" / "scl-2007B4" / "SCL.xsd"), parser))


def test_the_station_and_meter_icds_exist() -> None:
    assert {path.name for path in ICDS} >= {"evse.icd", "meter.icd"}


@pytest.mark.parametrize("icd", ICDS, ids=lambda path: path.name)
def test_icd_is_valid_scl(icd: Path, scl_schema: etree.XMLSchema) -> None:
    document = etree.parse(str(icd), etree.XMLParser(no_network=True, resolve_entities=False))
    if not scl_schema.validate(document):
        errors = "\n".join(f"line {e.line}: {e.message}" for e in scl_schema.error_log)
        pytest.fail(f"{icd.name} is not valid SCL 2007B4:\n{errors}")


def test_schema_rejects_a_broken_icd(scl_schema: etree.XMLSchema) -> None:
    # The test would be worthless if the schema accepted anything.
    document = etree.parse(str(SCL_DIR / "evse.icd"))
    ln = document.find(".//{http://www.iec.ch/61850/2003/SCL}LN")
    assert ln is not None
    del ln.attrib["lnType"]
    assert not scl_schema.validate(document)
