"""The WSDL and XSDs as served: rewritten per request (tests/contract/test_wsdl.py checks the shipped files)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from evgrid.adapters.soap.wsdl import ServiceDocuments
from evgrid.mappings.services import SERVICES, Service

WSDL = "http://schemas.xmlsoap.org/wsdl/"
SOAP_BINDING = "http://schemas.xmlsoap.org/wsdl/soap/"
XS = "http://www.w3.org/2001/XMLSchema"
SCHEMAS = Path(__file__).resolve().parents[4] / "evgrid" / "schemas"
BASES = [("https://evgrid.example:8443", "https://evgrid.example:8443/{}"),
         ("http://127.0.0.1:8000/soap/", "http://127.0.0.1:8000/soap/{}"),
         ("http://[::1]:8080", "http://[::1]:8080/{}")]

_DOCUMENTS: dict[str, ServiceDocuments] = {}


def documents(svc: Service) -> ServiceDocuments:
    """One ServiceDocuments per service for the module (it parses every XSD)."""
    if svc.name not in _DOCUMENTS:
        _DOCUMENTS[svc.name] = ServiceDocuments(svc)
    return _DOCUMENTS[svc.name]


def c14n(document: bytes | etree._ElementTree) -> bytes:
    tree = document if isinstance(document, etree._ElementTree) else etree.ElementTree(etree.fromstring(document))
    return bytes(etree.tostring(tree, method="c14n"))


def shipped(path: Path) -> etree._ElementTree:
    return etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))


@pytest.mark.parametrize("svc", SERVICES, ids=[svc.name for svc in SERVICES])
@pytest.mark.parametrize(("base", "endpoint"), BASES, ids=["https-host", "prefix-slash", "ipv6"])
def test_the_served_wsdl_is_the_shipped_one_with_this_endpoints_address_and_schema_urls(
        svc: Service, base: str, endpoint: str) -> None:
    url = endpoint.format(svc.name)
    expected = shipped(svc.wsdl_path)
    (address,) = expected.iterfind(f"{{{WSDL}}}service/{{{WSDL}}}port/{{{SOAP_BINDING}}}address")
    address.set("location", url)
    (schema_import,) = expected.iter(f"{{{XS}}}import")
    schema_import.set("schemaLocation", f"{url}?xsd=message.xsd")

    served = documents(svc).wsdl(base)

    assert served.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert c14n(served) == c14n(expected)
    assert documents(svc).endpoint_url(base) == url


@pytest.mark.parametrize(("name", "imports"), [
    ("MeterReadingsMessage.xsd", ["message.xsd", "MeterReadings.xsd"]),
    ("GetMeterReadingsMessage.xsd", ["message.xsd", "MeterReadings.xsd", "GetMeterReadings.xsd"]),
    ("message.xsd", []),
    ("EvCharging.xsd", []),
])
def test_a_served_schema_is_the_shipped_one_with_its_imports_at_this_endpoint(name: str, imports: list[str]) -> None:
    svc = SERVICES[0]
    url = f"https://evgrid.example:8443/{svc.name}"
    expected = shipped(SCHEMAS / name)
    references = list(expected.iter(f"{{{XS}}}import"))
    assert [ref.get("schemaLocation") for ref in references] == imports
    for reference in references:
        reference.set("schemaLocation", f"{url}?xsd={reference.get('schemaLocation')}")

    served = documents(svc).schema(name, "https://evgrid.example:8443/")

    assert served is not None
    assert c14n(served) == c14n(expected)


@pytest.mark.parametrize("name", [
    "../message.xsd", "message", "MESSAGE.XSD", "message.xsd ", "wsdl/CustomerBilling.wsdl", "CustomerBilling.wsdl",
    "scl", "__init__.py", "/etc/passwd", "",
])
def test_only_a_shipped_schema_named_exactly_is_served(name: str) -> None:
    assert documents(SERVICES[0]).schema(name, "http://127.0.0.1:8000") is None


def test_rendering_for_one_host_leaves_nothing_behind_for_the_next() -> None:
    docs = documents(SERVICES[0])
    first = docs.wsdl("https://first.example")
    second = docs.wsdl("https://second.example")
    assert (b"first.example" in first, b"first.example" in second, b"second.example" in second) == (True, False, True)
    assert docs.schema("MeterReadingsMessage.xsd", "https://first.example") != docs.schema(
        "MeterReadingsMessage.xsd", "https://second.example")
    assert b"first.example" not in (docs.schema("MeterReadingsMessage.xsd", "https://second.example") or b"")
