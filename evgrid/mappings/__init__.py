"""Pure mappings: CIM <-> domain <-> IEC 61850 references, code tables, the step catalog."""
