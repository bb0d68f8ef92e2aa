"""TLS for the SOAP endpoints: the files a server needs, its SSL contexts, demo certificates.

The demo makes its own small PKI with the ``openssl`` command line tool (present
wherever Python's ``ssl`` module is; no extra Python package): a self-signed CA, a
server certificate for ``127.0.0.1``, ``::1`` and ``localhost``, and a client
certificate for mutual TLS. Keys are EC P-256 (fast to make and to handshake), written
with mode 0600. Certificates carry the extensions strict verifiers insist on (CA
basicConstraints and keyUsage, SKI / AKI, subjectAltName), so the same files verify under
Python's ``VERIFY_X509_STRICT``.
"""

from __future__ import annotations

import secrets
import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

from evgrid.errors import CertificateSetupError

DEMO_HOSTS = ("127.0.0.1", "::1", "localhost")
_OPENSSL_TIMEOUT_S = 60
_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = {alt_names}
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """A TLS server's certificate chain and key (PEM); with ``client_ca_file``, mutual TLS.

    Attributes:
        cert_file: the server certificate (and any intermediates), PEM.
        key_file: its private key, PEM, unencrypted.
        client_ca_file: set: clients must present a certificate this CA signed.
    """

    cert_file: Path
    key_file: Path
    client_ca_file: Path | None = None

    def server_context(self) -> ssl.SSLContext:
        """The server's SSLContext: TLS 1.2 or newer, the client certificate when mutual."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_file, self.key_file)
        if self.client_ca_file is not None:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(cafile=self.client_ca_file)
        return context


@dataclass(frozen=True, slots=True)
class DemoPki:
    """The files :func:`create_demo_pki` wrote."""

    ca_file: Path
    server: TlsFiles
    client_cert_file: Path
    client_key_file: Path

    def mutual(self) -> TlsFiles:
        """The server's files with client certificates required (signed by the demo CA)."""
        return TlsFiles(self.server.cert_file, self.server.key_file, self.ca_file)


def client_context(ca_file: Path, cert_file: Path | None = None, key_file: Path | None = None) -> ssl.SSLContext:
    """A client SSLContext trusting ``ca_file`` (hostname checked); with a certificate for mutual TLS."""
    context = ssl.create_default_context(cafile=str(ca_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert_file is not None:
        context.load_cert_chain(cert_file, key_file)
    return context


def create_demo_pki(directory: Path, *, hosts: tuple[str, ...] = DEMO_HOSTS, days: int = 30,
                    openssl: str | None = None) -> DemoPki:
    """Make (or reuse, while valid for another day) a CA, a server and a client certificate.

    Args:
        directory: where the PEM files go (created if missing).
        hosts: the server certificate's names: IP addresses and DNS names.
        days: validity of the certificates.
        openssl: the ``openssl`` executable; found on PATH by default.

    Raises:
        CertificateSetupError: ``openssl`` is missing or failed.
    """
    tool = openssl or shutil.which("openssl")
    if tool is None:
        raise CertificateSetupError("the openssl command is needed to make the demo certificates")
    directory.mkdir(parents=True, exist_ok=True)
    pki = DemoPki(directory / "ca.pem", TlsFiles(directory / "server.pem", directory / "server.key"),
                  directory / "client.pem", directory / "client.key")
    certificates = (pki.ca_file, pki.server.cert_file, pki.client_cert_file)
    keys = (pki.server.key_file, pki.client_key_file, directory / "ca.key")
    if all(path.exists() for path in (*certificates, *keys)) and all(
            _valid_for_a_day(tool, path) for path in certificates):
        return pki
    config = directory / "openssl.cnf"
    config.write_text(_CONFIG.format(alt_names=", ".join(_alt_name(host) for host in hosts)), encoding="utf-8")

    def run(*args: str) -> None:
        try:
            subprocess.run([tool, *args], cwd=directory, check=True, capture_output=True, timeout=_OPENSSL_TIMEOUT_S)
        except (OSError, subprocess.SubprocessError) as exc:
            stderr = getattr(exc, "stderr", b"") or b""
            raise CertificateSetupError(f"openssl {args[0]} failed: {stderr.decode(errors='replace').strip()}") from exc

    key = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-config", config.name)
    run("req", "-x509", *key, "-extensions", "ca", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", str(days), "-subj", "/CN=evgrid demo CA")
    for name, subject in (("server", hosts[0]), ("client", "evgrid demo client")):
        run("req", "-new", *key, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={subject}")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-set_serial", f"0x{secrets.token_hex(16)}", "-days", str(days), "-extfile", config.name,
            "-extensions", name, "-out", f"{name}.pem")
        (directory / f"{name}.csr").unlink()
    for path in keys:
        path.chmod(0o600)
    return pki


def _alt_name(host: str) -> str:
    return f"IP:{host}" if host.replace(".", "").isdigit() or ":" in host else f"DNS:{host}"


def _valid_for_a_day(tool: str, certificate: Path) -> bool:
    result = subprocess.run([tool, "x509", "-checkend", "86400", "-noout", "-in", str(certificate)],
                            capture_output=True, timeout=_OPENSSL_TIMEOUT_S, check=False)
    return result.returncode == 0
