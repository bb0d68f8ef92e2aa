"""The zeep adapter against evgrid's SOAP server and the reference MDM, on loopback.

Both paths of :class:`ServiceClient` (our envelope, zeep's serializer) reach the same
server; standard IEC 61968-9 messages (the golden fixtures, generic envelope and
noun-specific wrapper) are stored and read back; every failure is an UpstreamFault with
its 61968-100 code.
"""

from __future__ import annotations

import copy
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from lxml import etree

from evgrid.adapters.soap.client import ServiceClient, wsdl_client
from evgrid.adapters.soap.security import Credentials, Principal, PrincipalKind
from evgrid.adapters.soap.server import endpoint_for, make_app, serve_in_thread
from evgrid.apps.processes import first_line
from evgrid.apps.services.mdm import MeterDataManagement
from evgrid.cim import envelope as env
from evgrid.cim import namespaces as ns
from evgrid.cim.codec import Codec
from evgrid.errors import UnsupportedOperation, UpstreamFault
from evgrid.mappings import examples
from tests.conftest import free_port

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "messages"
USER, PASSWORD = "evos", "evos-secret"
MR = "{" + ns.METER_READINGS + "}"
codec = Codec()


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# The MeterReadings fixtures carry the closing register read of a span; MDM stores a span
# whole (VEE): each gets its opening read (the closing one less its intervals) and its meter.
SPAN_STARTS = {"MeterReadings_created_register.xml": ("2024-05-14T07:00:00Z", "18225.74"),
               "MeterReadings_created_envelope.xml": ("2024-05-14T07:45:00Z", "18233.54")}
METER = "b1f5e3a2-7c44-4a0e-9f6b-0d2c1e9a4b11"


def span_fixture(name: str) -> bytes:
    """A MeterReadings fixture as a whole span: its opening register read added, and a Meter if it has none."""
    root = etree.fromstring(fixture(name))
    reading = next(root.iter(MR + "MeterReading"))
    closing = reading.find(MR + "Readings")
    if reading.find(MR + "Meter") is None:
        meter = etree.Element(MR + "Meter")
        etree.SubElement(meter, MR + "mRID").text = METER
        closing.addprevious(meter)
    opening = copy.deepcopy(closing)
    opening.find(MR + "timeStamp").text, opening.find(MR + "value").text = SPAN_STARTS[name]
    closing.addprevious(opening)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@pytest.fixture
def mdm() -> Iterator[MeterDataManagement]:
    service = MeterDataManagement()
    yield service
    service.close()


@pytest.fixture
def mdm_url(mdm: MeterDataManagement) -> Iterator[str]:
    credentials = Credentials()
    credentials.add(Principal(USER, PrincipalKind.UTILITY), PASSWORD)
    app = make_app([endpoint_for("MeterDataManagement", mdm.handle)], credentials, source="evgrid-mdm")
    with serve_in_thread(app) as url:
        yield url


def client(url: str, **options: object) -> ServiceClient:
    options.setdefault("credentials", (USER, PASSWORD))
    return ServiceClient("MeterDataManagement", url, timeout_s=5.0, **options)  # type: ignore[arg-type]


def sender(mdm_client: ServiceClient, path: str) -> Callable[[bytes], bytes]:
    return mdm_client.send if path == "send" else mdm_client.send_with_zeep


def readings_in(reply: bytes) -> dict[tuple[str, str, str], str]:
    """(meter or usage point, kind, timeStamp) -> value of a reply's MeterReadings."""
    root = codec.decode(reply).root  # the reply is schema-valid
    found = {}
    for reading in root.iter(MR + "MeterReading"):
        who = reading.findtext(f"{MR}Meter/{MR}mRID") or reading.findtext(f"{MR}UsagePoint/{MR}mRID")
        for register in reading.iter(MR + "Readings"):
            found[(who, "register", register.findtext(MR + "timeStamp"))] = register.findtext(MR + "value")
        for interval in reading.iter(MR + "IntervalReadings"):
            found[(who, "interval", interval.findtext(MR + "timeStamp"))] = interval.findtext(MR + "value")
    return found


@pytest.mark.parametrize("path", ["send", "send_with_zeep"])
@pytest.mark.parametrize("security", ["basic", "wsse", "both"])
def test_standard_meter_readings_are_stored_and_read_back(mdm_url: str, mdm: MeterDataManagement, path: str,
                                                          security: str) -> None:
    with client(mdm_url, security=security) as mdm_client:
        send = sender(mdm_client, path)
        # As other systems produce them: the noun-specific wrapper and the generic envelope.
        for name in ("MeterReadings_created_register.xml", "MeterReadings_created_envelope.xml"):
            result = codec.decode(send(span_fixture(name)))
            assert result.result == "OK" and result.header.verb is env.Verb.REPLY
        assert mdm.count() == 7

        reply = send(fixture("GetMeterReadings_get_usagepoint.xml"))

    readings = readings_in(reply)
    assert readings[(METER, "register", "2024-05-14T08:00:00Z")] == "18234.56"  # in the ReadingType received
    assert readings[(METER, "interval", "2024-05-14T07:30:00Z")] == "2.74"
    assert readings[(METER, "interval", "2024-05-14T08:00:00Z")] == "1.02"
    assert len(readings) == 7  # registers at 07:00, 07:45 and 08:00, intervals 07:15 to 08:00


def test_changed_readings_replace_and_a_replay_changes_nothing(mdm_url: str, mdm: MeterDataManagement) -> None:
    created = span_fixture("MeterReadings_created_envelope.xml")
    changed = (created.replace(b"<msg:Verb>created</msg:Verb>", b"<msg:Verb>changed</msg:Verb>")
               .replace(b"18234.56", b"18234.61").replace(b">1.02<", b">1.07<").replace(b"4b5c6d7e-", b"9b5c6d7e-"))
    with client(mdm_url) as mdm_client:
        first = mdm_client.send(created)
        assert mdm_client.send(created) == first  # the same MessageID: the stored reply
        mdm_client.send(changed)
        reply = mdm_client.send(fixture("GetMeterReadings_get_envelope.xml").replace(
            b"0.0.2.4.1.1.12.0.0.0.0.0.0.0.0.3.72.0", b"0.0.0.1.1.1.12.0.0.0.0.0.0.0.0.3.72.0"))
    assert readings_in(reply) == {(METER, "register", "2024-05-14T07:45:00Z"): "18233.54",
                                  (METER, "register", "2024-05-14T08:00:00Z"): "18234.61"}
    assert mdm.count() == 3


def get_without_selection() -> bytes:
    """A GetMeterReadings naming neither a usage point nor a meter (valid, but too wide)."""
    root = etree.fromstring(fixture("GetMeterReadings_get_envelope.xml"))
    for usage_point in root.iter("{" + ns.GET_METER_READINGS + "}UsagePoint"):
        usage_point.getparent().remove(usage_point)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@pytest.mark.parametrize("path", ["send", "send_with_zeep"])
@pytest.mark.parametrize(("message", "code"), [
    (fixture("MeterReadings_created_invalid_unknown_element.xml"), "2.4"),
    (get_without_selection(), "1.0"),
], ids=["schema_invalid", "get_without_selection"])
def test_failed_reply_is_an_upstream_fault_with_its_code(mdm_url: str, path: str, message: bytes,
                                                         code: str) -> None:
    with client(mdm_url) as mdm_client, pytest.raises(UpstreamFault) as raised:
        sender(mdm_client, path)(message)
    assert raised.value.code == code
    assert "FAILED" in raised.value.reason


@pytest.mark.parametrize("path", ["send", "send_with_zeep"])
@pytest.mark.parametrize("security", ["basic", "wsse"])
def test_a_wrong_password_is_refused_with_7_1(mdm_url: str, mdm: MeterDataManagement, path: str,
                                              security: str) -> None:
    with client(mdm_url, credentials=(USER, "wrong"), security=security) as mdm_client, \
            pytest.raises(UpstreamFault) as raised:
        sender(mdm_client, path)(fixture("MeterReadings_created_envelope.xml"))
    assert raised.value.code == "7.1"
    assert mdm.count() == 0


@pytest.mark.parametrize("path", ["send", "send_with_zeep"])
def test_server_down_is_4_1(path: str) -> None:
    with client(f"http://127.0.0.1:{free_port()}") as mdm_client, pytest.raises(UpstreamFault) as raised:
        sender(mdm_client, path)(fixture("MeterReadings_created_envelope.xml"))
    assert raised.value.code == "4.1"
    assert isinstance(raised.value.__cause__, ConnectionRefusedError)


def test_a_server_that_never_answers_times_out_with_4_2() -> None:
    with socket.socket() as listener:  # accepts connections (the backlog), never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with ServiceClient("MeterDataManagement", url, credentials=(USER, PASSWORD), timeout_s=0.3) as slow:
            started = time.monotonic()
            with pytest.raises(UpstreamFault) as raised:
                slow.send(fixture("MeterReadings_created_envelope.xml"))
    assert raised.value.code == "4.2" and time.monotonic() - started < 5


def test_an_operation_the_service_lacks_is_refused_before_sending() -> None:
    request = codec.dump(env.request(env.Verb.CREATE, "ChargingRequest", examples.charging_request(False),
                                     source="evgrid"))
    with client(f"http://127.0.0.1:{free_port()}") as mdm_client, pytest.raises(UnsupportedOperation):
        mdm_client.send(request)


def test_the_wsdl_is_read_once_from_the_package() -> None:
    # Nothing listens at this address: building the client fetches nothing from it.
    with client(f"http://127.0.0.1:{free_port()}/ignored") as first, client("http://127.0.0.1:1") as second:
        assert first.address.endswith("/ignored/MeterDataManagement")
    assert wsdl_client("MeterDataManagement") is wsdl_client("MeterDataManagement")
    assert first._zeep is second._zeep


# ----------------------------------------------------------------- evgrid sim mdm
def start_sim(*args: str, timeout_s: float = 30.0, command: str = "sim") -> tuple[subprocess.Popen[bytes], str]:
    """``python -m evgrid sim ...`` (or another ``command``) until its ready line; returns the process and URL."""
    # stderr to a file: a pipe nobody reads would block a chatty service once it is full.
    stderr = tempfile.TemporaryFile()  # noqa: SIM115 - outlives this function; stop_sim closes it
    process = subprocess.Popen([sys.executable, "-m", "evgrid", command, *args, "--log-level", "WARNING"],
                               stdout=subprocess.PIPE, stderr=stderr)
    process.stderr_file = stderr  # type: ignore[attr-defined]
    line = first_line(process, timeout_s)
    if not line.startswith("ready "):
        process.kill()
        process.communicate(timeout=10)
        stderr.seek(0)
        pytest.fail(f"evgrid {command} {' '.join(args)} did not start: {line!r} {stderr.read().decode()[-2000:]}")
    return process, line.split("url=", 1)[1].strip()


def stop_sim(process: subprocess.Popen[bytes], *, kill: bool = False) -> int:
    """SIGTERM (a clean stop) or SIGKILL (a crash); returns the exit status."""
    if kill:
        process.kill()
    else:
        process.terminate()
    try:
        process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=20)
        process.stderr_file.close()  # type: ignore[attr-defined]
    return int(process.returncode)


def test_evgrid_sim_mdm_serves_its_wsdl_and_readings() -> None:
    process, url = start_sim("mdm", "--port", "0", "--credentials", f"{USER}:{PASSWORD}")
    try:
        assert url.endswith("/MeterDataManagement")
        wsdl = httpx.get(url + "?wsdl", timeout=5)
        assert wsdl.status_code == 200
        address = etree.fromstring(wsdl.content).find(".//{http://schemas.xmlsoap.org/wsdl/soap/}address")
        assert address is not None and address.get("location") == url
        with client(url.rsplit("/", 1)[0]) as mdm_client:
            mdm_client.send(span_fixture("MeterReadings_created_register.xml"))
            assert len(readings_in(mdm_client.send(fixture("GetMeterReadings_get_usagepoint.xml")))) == 6
    finally:
        assert stop_sim(process) in (0, 143, -15)


def test_over_tls_the_client_verifies_the_server_with_a_ca_file(tmp_path: Path, mdm: MeterDataManagement) -> None:
    from evgrid.adapters.soap.tls import create_demo_pki

    pki = create_demo_pki(tmp_path / "pki")
    credentials = Credentials()
    credentials.add(Principal(USER, PrincipalKind.UTILITY), PASSWORD)
    app = make_app([endpoint_for("MeterDataManagement", mdm.handle)], credentials)
    with serve_in_thread(app, tls=pki.server) as url:
        assert url.startswith("https://")
        with client(url, verify=pki.ca_file) as trusting:
            trusting.send(span_fixture("MeterReadings_created_envelope.xml"))
        with client(url) as untrusting, pytest.raises(UpstreamFault) as raised:  # the system store lacks our CA
            untrusting.send(fixture("MeterReadings_created_register.xml"))
    assert raised.value.code == "4.1" and "CERTIFICATE_VERIFY_FAILED" in raised.value.reason
    assert mdm.count() == 3
