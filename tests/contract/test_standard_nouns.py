"""evgrid's own IEC 61968-9 noun schemas against the published ones (the test oracle).

Three claims, each checked both ways against ``../shared/reference``:

1. Our schemas compile and are self-contained (relative imports, no vendor text).
2. They accept what the standard accepts: every valid golden message in
   ``tests/fixtures/messages`` validates against the reference schemas *and* ours, in
   the noun-specific wrapper form (``CreatedMeterReadings``) and in the generic
   61968-100 form (``msg:EventMessage`` with the noun in ``Payload``).
3. They are as strict as the standard: every ``*_invalid_*`` message is rejected by
   both, for the same reason; and walking the two XSDs finds the same complex types,
   the same elements and the same type/minOccurs/maxOccurs for each, in the same order.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "evgrid" / "schemas"
FIXTURES = ROOT / "tests" / "fixtures" / "messages"

XS = "http://www.w3.org/2001/XMLSchema"
MESSAGE = "http://iec.ch/TC57/2011/schema/message"
REFERENCE_MESSAGE = "iec61968-100/Message.xsd"
HEADER_PHRASE = "written for evgrid; structure follows IEC 61968-9 so standard messages validate"


@dataclass(frozen=True)
class Pair:
    """One of our schema files and the published file it must match."""

    ours: str
    reference: str  # relative to ../shared/reference


@dataclass(frozen=True)
class Noun:
    """A 61968-9 noun: its profile namespace and schema, and its message wrappers."""

    name: str
    namespace: str
    profile: Pair
    wrapper_namespace: str
    wrapper: Pair


NOUNS = (
    Noun(
        "MeterReadings",
        "http://iec.ch/TC57/2011/MeterReadings#",
        Pair("MeterReadings.xsd", "iec61968-9/meterreadings/xsd/MeterReadings.xsd"),
        "http://iec.ch/TC57/2011/MeterReadingsMessage",
        Pair("MeterReadingsMessage.xsd", "iec61968-9/meterreadings/xsd/MeterReadingsMessage.xsd"),
    ),
    Noun(
        "GetMeterReadings",
        "http://iec.ch/TC57/2011/GetMeterReadings#",
        Pair("GetMeterReadings.xsd", "iec61968-9/meterreadings/xsd/GetMeterReadings.xsd"),
        "http://iec.ch/TC57/2011/GetMeterReadingsMessage",
        Pair("GetMeterReadingsMessage.xsd", "iec61968-9/meterreadings/xsd/GetMeterReadingsMessage.xsd"),
    ),
    Noun(
        "EndDeviceControls",
        "http://iec.ch/TC57/2011/EndDeviceControls#",
        Pair("EndDeviceControls.xsd", "iec61968-9/enddevicecontrols/xsd/EndDeviceControls.xsd"),
        "http://iec.ch/TC57/2011/EndDeviceControlsMessage",
        Pair("EndDeviceControlsMessage.xsd", "iec61968-9/enddevicecontrols/xsd/EndDeviceControlsMessage.xsd"),
    ),
    Noun(
        "EndDeviceEvents",
        "http://iec.ch/TC57/2011/EndDeviceEvents#",
        Pair("EndDeviceEvents.xsd", "iec61968-9/enddeviceevents/xsd/EndDeviceEvents.xsd"),
        "http://iec.ch/TC57/2011/EndDeviceEventsMessage",
        Pair("EndDeviceEventsMessage.xsd", "iec61968-9/enddeviceevents/xsd/EndDeviceEventsMessage.xsd"),
    ),
)
BY_NAMESPACE = {noun.namespace: noun for noun in NOUNS}
BY_WRAPPER_NAMESPACE = {noun.wrapper_namespace: noun for noun in NOUNS}
PAIRS = [pair for noun in NOUNS for pair in (noun.profile, noun.wrapper)]
OUR_FILES = [pair.ours for pair in PAIRS]

# Our schemas side by side in one validation pass: message.xsd's lax Payload and Request
# wildcards then check a noun document wherever the generic 61968-100 form carries one.
ALL_IN_ONE = (
    f'<xs:schema xmlns:xs="{XS}">'
    f'<xs:import namespace="{MESSAGE}" schemaLocation="message.xsd"/>'
    + "".join(f'<xs:import namespace="{n.namespace}" schemaLocation="{n.profile.ours}"/>' for n in NOUNS)
    + "</xs:schema>"
)

# Each invalid golden message, and what both validators must say about it: proof that
# the message fails for the reason its name gives, not for a typo elsewhere. (libxml2
# shortens long "Expected is one of" lists, so a missing element is named by the
# element that is found in its place, or by the parent that lacks it.)
INVALID_BECAUSE = {
    "MeterReadings_created_invalid_missing_readingtype.xml": "}Readings': Missing child element(s)",
    "MeterReadings_created_invalid_wrong_type.xml": "}timeStamp': '14.05.2024 08:00' is not a valid value",
    "MeterReadings_created_invalid_unknown_element.xml": "}chargingSessionId': This element is not expected",
    "MeterReadings_created_invalid_readingtype_names.xml": "}ReadingType': Missing child element(s)",
    "MeterReadings_created_invalid_envelope_payload.xml": "}reason': [facet 'enumeration'] The value 'whenever'",
    "GetMeterReadings_get_invalid_missing_request.xml": "GetMeterReadingsMessage}Request )",
    "GetMeterReadings_get_invalid_timeschedule.xml": "Expected is ( {http://iec.ch/TC57/2011/GetMeterReadings#}sch",
    "EndDeviceControls_create_invalid_missing_controltype.xml": "}EndDevices': This element is not expected",
    "EndDeviceControls_create_invalid_scheduledinterval.xml": "}scheduledInterval': This element is not expected",
    "EndDeviceControls_create_invalid_wrong_enum.xml": "The value 'sometimes' is not an element of the set",
    "EndDeviceEvents_created_invalid_missing_createddatetime.xml": "EndDeviceEvents#}createdDateTime )",
    "EndDeviceEvents_created_invalid_verb.xml": "The value 'notified' is not an element of the set",
}


def _golden(pattern: str) -> list[str]:
    """List this module's golden files; other nouns' files in the folder are not ours."""
    prefixes = tuple(f"{noun.name}_" for noun in NOUNS)
    names = sorted(path.name for path in FIXTURES.glob(pattern))
    return [name for name in names if name.startswith(prefixes)]


INVALID = _golden("*_invalid_*.xml")
VALID = [name for name in _golden("*.xml") if name not in INVALID]


def _parser() -> etree.XMLParser:
    """Never fetch, never expand entities: golden files are treated like inbound XML."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


@functools.cache
def _schema(path: Path) -> etree.XMLSchema:
    """Compile an XSD file once per test session."""
    return etree.XMLSchema(etree.parse(str(path), _parser()))


@functools.cache
def _all_in_one() -> etree.XMLSchema:
    """Compile ALL_IN_ONE, resolving its imports in our schemas folder."""
    document = etree.fromstring(ALL_IN_ONE.encode(), _parser(), base_url=str(SCHEMAS / "all-in-one.xsd"))
    return etree.XMLSchema(document)


def _errors(schema: etree.XMLSchema, element: etree._Element) -> list[str]:
    """Return the errors of ``element`` validated as a document of its own; [] when valid."""
    document = etree.ElementTree(copy.deepcopy(element))
    if schema.validate(document):
        return []
    return [f"line {error.line}: {error.message}" for error in schema.error_log]


def _noun_documents(root: etree._Element) -> list[tuple[Noun, etree._Element]]:
    """Find the topmost elements in a noun's profile namespace, e.g. m:MeterReadings in Payload."""
    found = []
    for element in root.iter(etree.Element):
        namespace = etree.QName(element).namespace
        parent = element.getparent()
        if namespace in BY_NAMESPACE and (parent is None or etree.QName(parent).namespace != namespace):
            found.append((BY_NAMESPACE[namespace], element))
    return found


def _validate_reference(root: etree._Element, reference_dir: Path) -> list[str]:
    """Validate as the published schemas would: wrapper form, or envelope plus payload.

    The standard Message.xsd skips its Payload (processContents="skip"), so in the
    generic form each noun document found in the message is validated on its own
    against the published noun schema.
    """
    namespace = etree.QName(root).namespace
    if namespace in BY_WRAPPER_NAMESPACE:
        return _errors(_schema(reference_dir / BY_WRAPPER_NAMESPACE[namespace].wrapper.reference), root)
    assert namespace == MESSAGE, f"unexpected root {root.tag}"
    errors = _errors(_schema(reference_dir / REFERENCE_MESSAGE), root)
    for noun, element in _noun_documents(root):
        errors += _errors(_schema(reference_dir / noun.profile.reference), element)
    return errors


def _validate_ours(root: etree._Element) -> list[str]:
    """Validate with our schemas: the noun's wrapper XSD, or the all-in-one schema."""
    namespace = etree.QName(root).namespace
    if namespace in BY_WRAPPER_NAMESPACE:
        return _errors(_schema(SCHEMAS / BY_WRAPPER_NAMESPACE[namespace].wrapper.ours), root)
    assert namespace == MESSAGE, f"unexpected root {root.tag}"
    return _errors(_all_in_one(), root)


def _load(name: str) -> etree._Element:
    """Parse a golden message."""
    return etree.parse(str(FIXTURES / name), _parser()).getroot()


# --- 1. our schemas compile and stand alone ------------------------------------------


@pytest.mark.parametrize("name", [*OUR_FILES, "all-in-one"])
def test_schema_compiles(name: str) -> None:
    """Each of our XSDs, and all of them together, compile with libxml2."""
    schema = _all_in_one() if name == "all-in-one" else _schema(SCHEMAS / name)
    assert isinstance(schema, etree.XMLSchema)


@pytest.mark.parametrize("name", OUR_FILES)
def test_schema_is_our_own_and_self_contained(name: str) -> None:
    """Our header, no vendor text, and imports that resolve next to the file (no network)."""
    text = (SCHEMAS / name).read_text(encoding="utf-8")
    root = etree.fromstring(text.encode(), _parser())

    words = " ".join(text.split())
    assert f"evgrid profile of IEC 61968-9 {name.removesuffix('.xsd').removesuffix('Message')}" in words
    assert HEADER_PHRASE in words
    for vendor_text in ("sawsdl", "Copyright", "All Rights Reserved", "langdale", "Connexo"):
        assert vendor_text not in text, f"{name} carries {vendor_text!r}"
    for location in root.iter(f"{{{XS}}}import", f"{{{XS}}}include"):
        target = location.get("schemaLocation", "")
        assert "/" not in target and ":" not in target, f"{name}: non-local schemaLocation {target!r}"
        assert (SCHEMAS / target).is_file(), f"{name}: {target} missing"


# --- 2. what the standard accepts, we accept ----------------------------------------


def test_golden_messages_cover_every_noun() -> None:
    """At least 8 valid messages; every noun has valid and invalid ones, each with a reason."""
    assert len(VALID) >= 8
    for noun in NOUNS:
        assert any(name.startswith(f"{noun.name}_") for name in VALID), noun.name
        assert any(name.startswith(f"{noun.name}_") for name in INVALID), noun.name
    assert set(INVALID) == set(INVALID_BECAUSE), "every invalid message needs its reason"


@pytest.mark.parametrize("name", VALID)
def test_valid_message_passes_reference_and_ours(name: str, reference_dir: Path) -> None:
    """What the published schemas accept, ours accept."""
    root = _load(name)

    assert _validate_reference(root, reference_dir) == []
    assert _validate_ours(root) == []


@pytest.mark.parametrize("name", [name for name in VALID if name.endswith("_envelope.xml")])
def test_envelope_payload_is_checked_not_skipped(name: str) -> None:
    """A lax wildcard passes unknown namespaces silently: make sure ours knew the payload."""
    root = _load(name)
    assert etree.QName(root).namespace == MESSAGE
    documents = _noun_documents(root)
    assert documents, f"{name} carries no IEC 61968-9 noun document"

    broken = copy.deepcopy(root)
    noun, element = _noun_documents(broken)[0]
    element.append(etree.Element(f"{{{noun.namespace}}}bogus"))
    assert _validate_ours(broken), "a bogus element inside the payload went unnoticed"


# --- 3. what the standard rejects, we reject ----------------------------------------


@pytest.mark.parametrize("name", INVALID)
def test_invalid_message_fails_reference_and_ours(name: str, reference_dir: Path) -> None:
    """What the published schemas reject, ours reject, with the same diagnostics."""
    root = _load(name)
    reason = INVALID_BECAUSE[name]

    reference_errors = _validate_reference(root, reference_dir)
    our_errors = _validate_ours(root)

    assert reference_errors, f"the reference schemas accept {name}"
    assert any(reason in error for error in reference_errors), reference_errors
    # Same structure, same diagnostics: libxml2 reports the same errors at the same lines.
    assert our_errors == reference_errors


# --- structural equality of the XSDs ------------------------------------------------

QNAME_ATTRIBUTES = frozenset({"type", "ref", "base", "itemType", "substitutionGroup"})
TOP_LEVEL = frozenset({"element", "complexType", "simpleType", "group", "attributeGroup", "attribute"})
PARTICLES = frozenset({"element", "any", "sequence", "choice", "all", "group"})
OCCURS_DEFAULTS = {"minOccurs": "1", "maxOccurs": "1"}

Declaration = tuple[str, str, str]  # (type, minOccurs, maxOccurs)


def _resolve(node: etree._Element, value: str) -> str:
    """Spell a QName attribute value in Clark notation, whatever prefix the file chose."""
    prefix, _, local = value.rpartition(":")
    namespace = node.nsmap.get(prefix or None)
    return f"{{{namespace}}}{local}" if namespace else local


def _xsd_children(node: etree._Element) -> list[etree._Element]:
    """List the schema components below ``node``: no comments, annotations or foreign elements."""
    return [
        child
        for child in node
        if isinstance(child.tag, str)
        and etree.QName(child).namespace == XS
        and etree.QName(child).localname != "annotation"
    ]


def _canonical(node: etree._Element, *, top_level: bool = False) -> tuple[object, ...]:
    """Reduce an XSD node to a comparable tuple of its meaning, order of children kept.

    Drops what does not change validation: annotations, comments, sawsdl and other
    foreign attributes, prefixes (QNames are resolved), and explicit default occurrences.
    """
    kind = etree.QName(node).localname
    attributes = dict(OCCURS_DEFAULTS) if kind in PARTICLES and not top_level else {}
    for key, value in node.attrib.items():
        if etree.QName(key).namespace:
            continue
        attributes[key] = _resolve(node, value) if key in QNAME_ATTRIBUTES else value
    return (
        kind,
        tuple(sorted(attributes.items())),
        tuple(_canonical(child) for child in _xsd_children(node)),
    )


def _components(path: Path) -> dict[tuple[str, str], tuple[object, ...]]:
    """Map top-level components by (kind, name): complexType, simpleType, element, ..."""
    root = etree.parse(str(path), _parser()).getroot()
    return {
        (etree.QName(child).localname, child.get("name", "")): _canonical(child, top_level=True)
        for child in _xsd_children(root)
        if etree.QName(child).localname in TOP_LEVEL
    }


def _declarations(path: Path) -> dict[tuple[str, str], Declaration]:
    """Map every element by (owning complexType, element name) to type and occurrences.

    Elements of an anonymous complex type are owned by "Type/element"; their own type
    is reported as "(anonymous)". Top-level elements are owned by "(schema)".
    """
    found: dict[tuple[str, str], Declaration] = {}

    def walk(node: etree._Element, owner: str) -> None:
        for child in _xsd_children(node):
            kind = etree.QName(child).localname
            if kind == "element":
                name = child.get("name") or _resolve(child, child.get("ref", ""))
                declared = child.get("type")
                key = (owner, name)
                assert key not in found, f"{path.name}: {owner} declares {name} twice"
                found[key] = (
                    _resolve(child, declared) if declared else "(anonymous)",
                    child.get("minOccurs", "1"),
                    child.get("maxOccurs", "1"),
                )
                walk(child, f"{owner}/{name}")
            elif kind == "complexType" and child.get("name"):
                walk(child, child.get("name", ""))
            else:
                walk(child, owner)

    walk(etree.parse(str(path), _parser()).getroot(), "(schema)")
    return found


@pytest.mark.parametrize("pair", PAIRS, ids=[pair.ours for pair in PAIRS])
def test_same_complex_types_and_elements(pair: Pair, reference_dir: Path) -> None:
    """Same complex types, and the same (complexType, element) pairs: nothing dropped."""
    ours = _declarations(SCHEMAS / pair.ours)
    reference = _declarations(reference_dir / pair.reference)

    assert sorted(set(reference) - set(ours)) == [], "dropped from the standard"
    assert sorted(set(ours) - set(reference)) == [], "not in the standard"
    complex_types = {name for kind, name in _components(reference_dir / pair.reference) if kind == "complexType"}
    assert complex_types == {name for kind, name in _components(SCHEMAS / pair.ours) if kind == "complexType"}


@pytest.mark.parametrize("pair", PAIRS, ids=[pair.ours for pair in PAIRS])
def test_same_type_and_cardinality_per_element(pair: Pair, reference_dir: Path) -> None:
    """Each element has the standard's type, minOccurs and maxOccurs."""
    ours = _declarations(SCHEMAS / pair.ours)
    reference = _declarations(reference_dir / pair.reference)

    differences = {key: (reference[key], ours.get(key)) for key in reference if ours.get(key) != reference[key]}
    assert differences == {}, "(reference, ours) per (complexType, element)"


@pytest.mark.parametrize("pair", PAIRS, ids=[pair.ours for pair in PAIRS])
def test_same_structure_order_and_facets(pair: Pair, reference_dir: Path) -> None:
    """Stronger than the two above: sequence order, choices, attributes, enumerations."""
    ours = _components(SCHEMAS / pair.ours)
    reference = _components(reference_dir / pair.reference)

    assert sorted(ours) == sorted(reference)
    for key, expected in reference.items():
        assert ours[key] == expected, f"{key[0]} {key[1]} differs"
