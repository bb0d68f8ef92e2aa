"""Every catalog example is valid against our schemas and, for the standard parts,
against the public IEC 61968-100 / 61968-9 schemas; each survives a round trip."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from lxml import etree

from evgrid.cim import namespaces as ns
from evgrid.cim.codec import Codec
from evgrid.cim.generated import message
from evgrid.mappings import catalog, examples

CIM_STEPS = [row for row in catalog.STEPS if row.carries_cim]
# Standard 61968-9 nouns and where their public schema lives under ../shared/reference.
STANDARD_NOUNS = {
    ns.METER_READINGS: "iec61968-9/meterreadings/xsd/MeterReadings.xsd",
    ns.END_DEVICE_CONTROLS: "iec61968-9/enddevicecontrols/xsd/EndDeviceControls.xsd",
    ns.END_DEVICE_EVENTS: "iec61968-9/enddeviceevents/xsd/EndDeviceEvents.xsd",
}
MESSAGE_CLASSES = {
    "RequestMessage": message.RequestMessage,
    "ResponseMessage": message.ResponseMessage,
    "EventMessage": message.EventMessage,
}


@pytest.fixture(scope="module")
def codec() -> Codec:
    return Codec()


@pytest.fixture(scope="module")
def reference_schemas(reference_dir: Path) -> dict[str, etree.XMLSchema]:
    schemas = {ns.MESSAGE: etree.XMLSchema(file=str(reference_dir / "iec61968-100/Message.xsd"))}
    for namespace, path in STANDARD_NOUNS.items():
        schemas[namespace] = etree.XMLSchema(file=str(reference_dir / path))
    return schemas


def _c14n(element: etree._Element) -> bytes:
    return etree.tostring(element, method="c14n2", strip_text=True)


@pytest.mark.parametrize("row", CIM_STEPS, ids=[row.step for row in CIM_STEPS])
def test_example_validates(row: catalog.Step, codec: Codec, reference_schemas: dict[str, etree.XMLSchema]) -> None:
    data = codec.dump(examples.example_message(row))
    inbound = codec.decode(data)  # raises unless valid against our schemas

    assert inbound.header is not None
    assert inbound.header.verb.value == row.verb
    assert inbound.header.noun == row.noun
    assert inbound.payload is not None
    assert inbound.payload.tag == ns.qname(row.namespace or "", row.payload or "")

    # The envelope against the standard 61968-100 Message.xsd.
    envelope = reference_schemas[ns.MESSAGE]
    assert envelope.validate(etree.fromstring(data)), envelope.error_log
    # A standard noun's payload against the standard 61968-9 schema.
    if row.namespace in STANDARD_NOUNS:
        noun_schema = reference_schemas[row.namespace]
        payload = copy.deepcopy(inbound.payload)
        assert noun_schema.validate(etree.ElementTree(payload)), noun_schema.error_log


@pytest.mark.parametrize("row", CIM_STEPS, ids=[row.step for row in CIM_STEPS])
def test_example_round_trip(row: catalog.Step, codec: Codec) -> None:
    """parse -> bind -> dump -> validate -> canonical XML equal."""
    original = codec.dump(examples.example_message(row))
    inbound = codec.decode(original)
    bound = codec.bind(inbound.root, MESSAGE_CLASSES[inbound.kind.value])
    again = codec.dump(bound)
    codec.decode(again)
    assert _c14n(etree.fromstring(again)) == _c14n(etree.fromstring(original))


def test_catalog_covers_every_step_of_the_use_case() -> None:
    expected = ["1", "1.1.1", "1.1.2", "1.2", "2.1", "2.1.1", "2.2", "2.2.1", "2.3", "2.3.1",
                "2.3.2", "2.3.3", "2.3.4", "3.1", "3.1.1", "3.1.2", "3.1.3", "3.2", "3.2.1",
                "3.3", "3.3.1", "3.3.2", "3.3.3", "3.3.4", "3.3.5", "4.1", "4.1.1", "4.1.2"]
    assert list(catalog.STEP_IDS) == expected
    for row in catalog.STEPS:
        assert row.carries_cim or row.iec61850, f"step {row.step} has no transport"
        assert row.producer and row.receiver and row.information and row.environment


def test_every_row_names_a_test_that_exists(request: pytest.FixtureRequest) -> None:
    root = Path(request.config.rootpath)
    for row in catalog.STEPS:
        path, _, name = row.test.partition("::")
        assert (root / path).is_file(), f"step {row.step}: {path} does not exist"
        if name:
            function = name.partition("[")[0]
            assert f"def {function}(" in (root / path).read_text(), f"step {row.step}: no {function}"


def test_every_step_has_an_end_to_end_test_named_after_it(request: pytest.FixtureRequest) -> None:
    # tests/e2e/test_night.py proves each step in a real night; its tests are named test_<step>_...
    source = (Path(request.config.rootpath) / "tests" / "e2e" / "test_night.py").read_text()
    missing = [row.step for row in catalog.STEPS if f"def test_{row.step.replace('.', '_')}_" not in source]
    assert not missing, f"steps without an end-to-end test: {missing}"
