"""Adapters: the only modules that talk to the outside (SOAP, IEC 61850, the store, the ESB)."""
