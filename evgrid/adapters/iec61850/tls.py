"""Mutual TLS for MMS (IEC 62351-4 style): server and client authenticate each other.

Both sides present a certificate signed by a CA the other side trusts; the chain is
always validated, so a client without a trusted certificate is refused during the
handshake, before any MMS request.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyiec61850.pyiec61850 as iec

from evgrid.errors import DeviceError


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """Own certificate and key (PEM), and the CA certificate that signs the peers."""

    cert_file: Path
    key_file: Path
    ca_file: Path
    key_password: str | None = None


def configuration(settings: TlsSettings, *, client: bool) -> Any:
    """A native TLSConfiguration; free it with :func:`release` after its user is gone."""
    config = iec.TLSConfiguration_create()
    if client:
        iec.TLSConfiguration_setClientMode(config)
    steps = (
        (iec.TLSConfiguration_setOwnCertificateFromFile, (str(settings.cert_file),), settings.cert_file),
        (
            iec.TLSConfiguration_setOwnKeyFromFile,
            (str(settings.key_file), settings.key_password),
            settings.key_file,
        ),
        (iec.TLSConfiguration_addCACertificateFromFile, (str(settings.ca_file),), settings.ca_file),
    )
    for setter, arguments, path in steps:
        if not setter(config, *arguments):
            iec.TLSConfiguration_destroy(config)
            raise DeviceError(f"TLS: cannot load {path} (missing, unreadable or not PEM)")
    iec.TLSConfiguration_setChainValidation(config, True)
    iec.TLSConfiguration_setAllowOnlyKnownCertificates(config, False)
    return config


def release(config: Any) -> None:
    """Free a TLSConfiguration made by :func:`configuration`."""
    if config is not None:
        iec.TLSConfiguration_destroy(config)
