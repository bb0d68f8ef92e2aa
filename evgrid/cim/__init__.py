"""IEC 61968-100 envelopes, the hardened codec and the generated CIM bindings."""
