"""The WSDL and schemas a SOAP endpoint serves at ``?wsdl`` and ``?xsd=<name>``.

The shipped WSDLs carry a placeholder address and import ``../message.xsd`` by a
relative path (so that they load from the package without network). Served over HTTP,
both are rewritten for the request: ``soap:address`` becomes the URL the client used
(scheme and host of the request), and every ``schemaLocation`` points at this
endpoint's ``?xsd=`` URL, so a client (zeep, SoapUI) can load the WSDL from the server
alone. Only the XSDs shipped in ``evgrid/schemas`` are served, by exact file name.
"""

from __future__ import annotations

import copy
from pathlib import PurePosixPath
from urllib.parse import quote

from lxml import etree

from evgrid.cim.codec import SCHEMAS_DIR, hardened_parser
from evgrid.mappings.services import Service

WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP_NS = "http://schemas.xmlsoap.org/wsdl/soap/"
XS_NS = "http://www.w3.org/2001/XMLSchema"
_ADDRESS = f"{{{WSDL_NS}}}service/{{{WSDL_NS}}}port/{{{WSDL_SOAP_NS}}}address"
_REFERENCES = (f"{{{XS_NS}}}import", f"{{{XS_NS}}}include", f"{{{XS_NS}}}redefine")


class ServiceDocuments:
    """One service's WSDL and the schemas it needs, parsed once, rendered per request."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self._wsdl = etree.parse(str(service.wsdl_path), hardened_parser())
        self._schemas = {path.name: etree.parse(str(path), hardened_parser()) for path in SCHEMAS_DIR.glob("*.xsd")}

    def endpoint_url(self, base_url: str) -> str:
        """The service's address under ``base_url`` (``scheme://host[:port][/prefix]``)."""
        return f"{base_url.rstrip('/')}/{self.service.name}"

    def wsdl(self, base_url: str) -> bytes:
        """The WSDL with the address and schema locations of ``base_url``."""
        tree = copy.deepcopy(self._wsdl)
        root = tree.getroot()
        for address in root.iterfind(_ADDRESS):
            address.set("location", self.endpoint_url(base_url))
        self._relocate(root, base_url)
        return bytes(etree.tostring(tree, xml_declaration=True, encoding="UTF-8"))

    def schema(self, name: str, base_url: str) -> bytes | None:
        """The shipped XSD called ``name`` (a bare file name), or None."""
        source = self._schemas.get(name)
        if source is None:
            return None
        tree = copy.deepcopy(source)
        self._relocate(tree.getroot(), base_url)
        return bytes(etree.tostring(tree, xml_declaration=True, encoding="UTF-8"))

    def _relocate(self, root: etree._Element, base_url: str) -> None:
        for tag in _REFERENCES:
            for reference in root.iter(tag):
                location = reference.get("schemaLocation")
                if location:
                    # All our schemas sit in one folder: the file name is the whole key.
                    name = PurePosixPath(location).name
                    reference.set("schemaLocation", f"{self.endpoint_url(base_url)}?xsd={quote(name)}")
