"""evgrid's schemas (XSD, WSDL, SCL), shipped as package data."""
