"""evgrid's WSDLs say exactly what :mod:`evgrid.mappings.services` says.

Each is WSDL 1.1 in the IEC 61968-100 generic pattern and loads in zeep without network;
zeep's requests validate in our codec and our codec's replies read in zeep. The table
agrees with the use-case catalog: every step that leaves the utility core has its operation.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlparse

import pytest
import zeep
from lxml import etree
from xmlschema.extras.wsdl import Wsdl11Document

from evgrid.cim import envelope as env
from evgrid.cim import namespaces as ns
from evgrid.cim.codec import Codec, MessageKind, hardened_parser
from evgrid.cim.envelope import Verb
from evgrid.cim.generated import get_meter_readings as gmr
from evgrid.mappings import catalog, codes, examples, services
from evgrid.mappings.services import SERVICES, Operation, Service

WSDL = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
XS = "http://www.w3.org/2001/XMLSchema"
SOAP_HTTP = "http://schemas.xmlsoap.org/soap/http"
NSMAP = {"wsdl": WSDL, "soap": WSDL_SOAP, "xs": XS}

OPERATIONS = [(svc, op) for svc in SERVICES for op in svc.operations]
OPERATION_IDS = [f"{svc.name}.{op.name}" for svc, op in OPERATIONS]
SERVICE_IDS = [svc.name for svc in SERVICES]


class RemoteLoadRefused(Exception):
    """A WSDL or schema tried to load something that is not a local file."""


class LocalOnlyTransport(zeep.Transport):
    """A zeep transport that reads local files and refuses every URL with a scheme."""

    def load(self, url: str) -> bytes:
        """Read a local file; http, https and file URLs are refused."""
        if urlparse(url).scheme:
            raise RemoteLoadRefused(url)
        return bytes(super().load(url))


def _client(svc: Service) -> zeep.Client:
    settings = zeep.Settings(strict=True, forbid_dtd=True, forbid_entities=True)
    return zeep.Client(wsdl=str(svc.wsdl_path), transport=LocalOnlyTransport(), settings=settings)


@pytest.fixture(scope="module")
def codec() -> Codec:
    """One codec (schemas compiled once) for the module."""
    return Codec()


# --- the table itself ---------------------------------------------------------------


def test_table_names_are_unique() -> None:
    """Service names, WSDL files, and per service operation names and soapActions."""
    assert len({svc.name for svc in SERVICES}) == len(SERVICES)
    assert len({svc.wsdl for svc in SERVICES}) == len(SERVICES)
    for svc in SERVICES:
        assert len({op.name for op in svc.operations}) == len(svc.operations), svc.name
        assert len({op.soap_action for op in svc.operations}) == len(svc.operations), svc.name


def test_operation_names_and_actions_follow_the_pattern() -> None:
    """The brief's own examples, spelled out rather than derived."""
    evos = services.EV_OPERATION_SYSTEM
    create = evos.operation("CreateChargingRequest")
    assert (create.verb, create.noun, create.input_kind) == (Verb.CREATE, "ChargingRequest", MessageKind.REQUEST)
    assert create.soap_action == "http://iec.ch/TC57/2011/ChargingRequest/CreateChargingRequest"
    assert evos.operation("CreatedMeterReadings").input_kind is MessageKind.EVENT
    get = services.METER_DATA_MANAGEMENT.operation("GetMeterReadings")
    assert (get.verb, get.noun, get.payload_slot) == (Verb.GET, "MeterReadings", "Request")
    assert get.soap_action == "http://iec.ch/TC57/2011/MeterReadings/GetMeterReadings"


def test_wsdl_folder_holds_exactly_the_services() -> None:
    """No WSDL without a service in the table, no service without its WSDL."""
    assert sorted(p.name for p in services.WSDL_DIR.glob("*.wsdl")) == sorted(svc.wsdl for svc in SERVICES)


# --- the WSDLs as WSDL 1.1 documents ------------------------------------------------


class WsdlOperation(NamedTuple):
    """What one operation of a WSDL says, every reference resolved to a Clark name."""

    input: str
    output: str
    fault: str
    soap_action: str | None


class WsdlSummary(NamedTuple):
    """A WSDL reduced to what the services table fixes."""

    name: str | None
    target_namespace: str | None
    service: str | None
    address: str | None
    operations: dict[str, WsdlOperation]


def _clark(element: etree._Element, value: str | None) -> str:
    """Resolve a QName attribute value (``prefix:local``) in the element's scope."""
    assert value, f"missing QName on {element.tag}"
    prefix, _, local = value.rpartition(":")
    namespace = element.nsmap.get(prefix or None)
    assert namespace, f"undeclared prefix in {value!r}"
    return ns.qname(namespace, local)


def _one(root: etree._Element, path: str) -> etree._Element:
    found = root.xpath(path, namespaces=NSMAP)
    assert isinstance(found, list) and len(found) == 1, f"{path}: {len(found)} matches"
    element = found[0]
    assert isinstance(element, etree._Element)
    return element


def _summarize(root: etree._Element) -> WsdlSummary:
    """Follow binding -> portType -> message -> part element for every operation.

    Asserts along the way what every operation of the pattern shares: SOAP 1.1 over
    HTTP, document style, literal bodies and faults, matching input/output/fault names.
    """
    tns = root.get("targetNamespace")
    elements = {}  # message QName -> the element of its single part
    for message in root.iterfind("wsdl:message", NSMAP):
        parts = message.findall("wsdl:part", NSMAP)
        assert len(parts) == 1 and parts[0].get("type") is None, message.get("name")
        elements[ns.qname(tns or "", message.get("name", ""))] = _clark(parts[0], parts[0].get("element"))

    service = _one(root, "wsdl:service")
    port = _one(service, "wsdl:port")
    binding = _one(root, "wsdl:binding")
    port_type = _one(root, "wsdl:portType")
    assert _clark(port, port.get("binding")) == ns.qname(tns or "", binding.get("name", ""))
    assert _clark(binding, binding.get("type")) == ns.qname(tns or "", port_type.get("name", ""))
    soap_binding = _one(binding, "soap:binding")
    assert (soap_binding.get("style"), soap_binding.get("transport")) == ("document", SOAP_HTTP)

    abstract = {op.get("name"): op for op in port_type.iterfind("wsdl:operation", NSMAP)}
    operations: dict[str, WsdlOperation] = {}
    for bound in binding.iterfind("wsdl:operation", NSMAP):
        name = bound.get("name", "")
        op = abstract.pop(name)
        refs = {}
        for io in ("input", "output", "fault"):
            declared, wired = _one(op, f"wsdl:{io}"), _one(bound, f"wsdl:{io}")
            assert declared.get("name") and declared.get("name") == wired.get("name"), (name, io)
            refs[io] = elements[_clark(declared, declared.get("message"))]
            if io == "fault":
                soap_fault = _one(wired, "soap:fault")
                assert (soap_fault.get("name"), soap_fault.get("use")) == (wired.get("name"), "literal")
            else:
                body = _one(wired, "soap:body")
                assert body.get("use") == "literal" and body.get("parts") is None, (name, io)
        soap_op = _one(bound, "soap:operation")
        assert soap_op.get("style") in (None, "document"), name
        operations[name] = WsdlOperation(soap_action=soap_op.get("soapAction"), **refs)
    assert not abstract, f"portType operations without a binding: {sorted(abstract)}"
    address = _one(port, "soap:address").get("location")
    return WsdlSummary(root.get("name"), tns, service.get("name"), address, operations)


def _expected(svc: Service) -> WsdlSummary:
    message = {kind: ns.qname(ns.MESSAGE, kind.value) for kind in MessageKind}
    return WsdlSummary(
        svc.name, svc.namespace, svc.name, svc.placeholder_address,
        {op.name: WsdlOperation(message[op.input_kind], message[services.OUTPUT_KIND],
                                message[services.FAULT_KIND], op.soap_action)
         for op in svc.operations},
    )


@pytest.mark.parametrize("svc", SERVICES, ids=SERVICE_IDS)
def test_wsdl_says_what_the_table_says(svc: Service) -> None:
    """Parsed by the hardened lxml parser, the WSDL is the table's service, op for op."""
    root = etree.parse(str(svc.wsdl_path), hardened_parser()).getroot()
    assert root.tag == ns.qname(WSDL, "definitions")
    assert _summarize(root) == _expected(svc)


@pytest.mark.parametrize("svc", SERVICES, ids=SERVICE_IDS)
def test_wsdl_is_valid_wsdl_1_1(svc: Service) -> None:
    """Valid against the WSDL 1.1 schema, and every reference resolves (xmlschema's reader)."""
    document = Wsdl11Document(str(svc.wsdl_path))
    assert document.soap_binding
    assert ns.qname(ns.MESSAGE, "RequestMessage") in document.schema.maps.elements
    (binding,) = document.bindings.values()
    assert sorted(name for name, _, _ in binding.operations) == sorted(op.name for op in svc.operations)


@pytest.mark.parametrize("svc", SERVICES, ids=SERVICE_IDS)
def test_wsdl_imports_only_local_schemas(svc: Service) -> None:
    """Only ../message.xsd, by a relative location that resolves to our file."""
    root = etree.parse(str(svc.wsdl_path), hardened_parser()).getroot()
    imports = root.findall("wsdl:types/xs:schema/xs:import", NSMAP)
    assert [(i.get("namespace"), i.get("schemaLocation")) for i in imports] == [(ns.MESSAGE, "../message.xsd")]
    for location in root.xpath("//@schemaLocation | //@location[parent::wsdl:import]", namespaces=NSMAP):
        assert not urlparse(str(location)).scheme, location
        assert (svc.wsdl_path.parent / str(location)).resolve().is_file(), location


# --- zeep -----------------------------------------------------------------------------


@pytest.mark.parametrize("svc", SERVICES, ids=SERVICE_IDS)
def test_zeep_lists_exactly_the_operations(svc: Service) -> None:
    """Zeep sees the table's operations, soapActions, envelope elements and address."""
    client = _client(svc)
    (binding,) = client.wsdl.bindings.values()
    assert {name: op.soapaction for name, op in binding._operations.items()} == {
        op.name: op.soap_action for op in svc.operations
    }
    for op in svc.operations:
        zeep_op = binding._operations[op.name]
        assert zeep_op.input.body.qname == ns.qname(ns.MESSAGE, op.input_kind.value)
        assert zeep_op.output.body.qname == ns.qname(ns.MESSAGE, services.OUTPUT_KIND.value)
    (service,) = client.wsdl.services.values()
    (port,) = service.ports.values()
    assert port.binding_options["address"] == svc.placeholder_address


def test_zeep_refuses_remote_schemas(tmp_path: Path) -> None:
    """The guard the other zeep tests rely on does refuse a remote import."""
    wsdl = services.CUSTOMER_BILLING.wsdl_path.read_text(encoding="utf-8")
    remote = tmp_path / "remote.wsdl"
    remote.write_text(wsdl.replace('"../message.xsd"', '"http://192.0.2.1/message.xsd"'), encoding="utf-8")
    with pytest.raises(RemoteLoadRefused):
        zeep.Client(wsdl=str(remote), transport=LocalOnlyTransport())


def _selection() -> gmr.GetMeterReadings:
    """The GetMeterReadings selection: one usage point's Wh register."""
    return gmr.GetMeterReadings(
        usage_point=[gmr.UsagePoint(m_rid=examples.HOST["usage_point"])],
        reading_type=[gmr.ReadingType(m_rid=codes.REGISTER_WH)],
    )


def _example_input(op: Operation) -> object:
    """A realistic document for the operation's input: the catalog's example of its element."""
    if op.verb is Verb.GET:
        return _selection()
    for row in catalog.STEPS:
        if row.carries_cim and ns.qname(row.namespace or "", row.payload or "") == op.payload:
            return examples._payload(row.step)
    raise AssertionError(f"no catalog example of {op.payload}")


@pytest.mark.parametrize(("svc", "op"), OPERATIONS, ids=OPERATION_IDS)
def test_zeep_request_is_a_message_our_codec_accepts(svc: Service, op: Operation, codec: Codec) -> None:
    """Zeep fills the xs:any slot from an lxml element; the SOAP body validates unchanged."""
    client = _client(svc)
    document = codec.to_element(_example_input(op))
    header = {"Verb": op.verb.value, "Noun": op.noun, "Source": "evgrid-test", "MessageID": f"MSG-{op.name}"}
    slot = {op.payload_slot: {"_value_1": [document]}}
    soap = client.create_message(client.service, op.name, Header=header, **slot)

    inbound = codec.decode(etree.tostring(soap))  # unwraps SOAP, validates envelope and payload

    assert inbound.kind is op.input_kind
    assert inbound.header is not None
    assert (inbound.header.verb, inbound.header.noun) == (op.verb, op.noun)
    assert inbound.header.message_id == f"MSG-{op.name}"
    if op.payload_slot == "Request":
        assert inbound.payload is None
        carried = inbound.root.find(f"{{{ns.MESSAGE}}}Request/{op.payload}")
    else:
        carried = inbound.payload
    assert carried is not None and carried.tag == op.payload


def _in_soap(message: bytes) -> etree._Element:
    envelope = etree.Element(ns.qname(ns.SOAP11, "Envelope"), nsmap={"soapenv": ns.SOAP11})
    etree.SubElement(envelope, ns.qname(ns.SOAP11, "Body")).append(etree.fromstring(message))
    return envelope


REPLIES = {
    "CreateChargingRequest": lambda: examples.example_message(catalog.step("3.1.3")),  # PARTIAL
    "GetMeterReadings": lambda: env.reply_ok("MeterReadings", examples.meter_readings(True, False),
                                             source="evgrid-mdm", correlation_id="MSG-GetMeterReadings"),
}


REPLYING = [(svc, op) for svc, op in OPERATIONS if op.reply_payload]


@pytest.mark.parametrize(("svc", "op"), REPLYING, ids=[f"{svc.name}.{op.name}" for svc, op in REPLYING])
def test_zeep_reads_our_reply(svc: Service, op: Operation, codec: Codec) -> None:
    """Our codec's ResponseMessage is the operation's output for zeep, payload intact."""
    assert op.name in REPLIES, f"add an example reply for {op.name}"
    message = codec.dump(REPLIES[op.name]())
    codec.decode(message)
    (binding,) = _client(svc).wsdl.bindings.values()

    result = binding._operations[op.name].output.deserialize(_in_soap(message))

    assert result.Header.Noun == op.noun
    assert result.Reply.Result in ("OK", "PARTIAL")
    (payload,) = result.Payload._value_1
    assert isinstance(payload, etree._Element)
    assert payload.tag == op.reply_payload


# --- agreement with the use-case catalog --------------------------------------------


def _crosses_a_boundary(row: catalog.Step) -> bool:
    """Every exchange but those inside the utility core's one process needs SOAP."""
    return not {row.producer, row.receiver} <= services.IN_PROCESS


CIM_STEPS = [row for row in catalog.STEPS if row.carries_cim]


@pytest.mark.parametrize("row", CIM_STEPS, ids=[row.step for row in CIM_STEPS])
def test_catalog_step_has_its_operation(row: catalog.Step) -> None:
    """A step that leaves the core is carried by an operation of its receiver's service.

    A reply step is the output of an operation of its producer's service; a step inside
    the core (operation system and scheduler) has no operation.
    """
    carrying = [(svc, op) for svc, op in OPERATIONS if row.step in op.steps]
    if not _crosses_a_boundary(row):
        names = [f"{svc.name}.{op.name}" for svc, op in carrying]
        assert not carrying, f"step {row.step} is in-process, yet carried by {names}"
        return
    element = ns.qname(row.namespace or "", row.payload or "")
    if row.verb == Verb.REPLY.value:
        provider, expected = row.producer, [(op.noun, op.reply_payload) for _, op in carrying]
    else:
        provider, expected = row.receiver, [(op.verb.value, op.noun, op.payload) for _, op in carrying]
    matching = [svc.name for svc, op in carrying if svc.provider == provider]
    assert matching, f"step {row.step}: no operation of the {provider} service carries it"
    wanted = (row.noun, element) if row.verb == Verb.REPLY.value else (row.verb, row.noun, element)
    assert set(expected) == {wanted}, f"step {row.step}: operations carry {expected}"


def test_operation_steps_exist_and_elements_are_known() -> None:
    """Every step an operation names is a catalog step; every element is one evgrid speaks."""
    known = set(catalog.STEP_IDS)
    by_noun = catalog.payloads_by_noun()
    spoken = set().union(*by_noun.values())
    for svc, op in OPERATIONS:
        assert set(op.steps) <= known, f"{svc.name}.{op.name}: unknown steps"
        assert op.payload in spoken, f"{svc.name}.{op.name}: {op.payload}"
        if op.payload_slot == "Payload":
            assert op.payload in by_noun[op.noun], f"{svc.name}.{op.name}: {op.payload} is no {op.noun}"
        if op.reply_payload:
            assert op.reply_payload in by_noun[op.noun], f"{svc.name}.{op.name}: {op.reply_payload}"


def test_each_service_has_its_own_provider() -> None:
    """One service per catalog actor that receives SOAP; the core counts as one."""
    assert sorted(svc.provider for svc in SERVICES) == sorted(
        {catalog.EVOS, catalog.BILLING, catalog.MDM, catalog.PORTAL}
    )
