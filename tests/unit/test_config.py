"""`evgrid serve --config`: the TOML settings, validated once with every problem at once;
the command-line options describe the same settings; --check-config connects to nothing."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from evgrid.cli import build_parser, main
from evgrid.commands.serve import settings_from_args
from evgrid.config import load_settings
from evgrid.errors import ConfigError
from evgrid.settings import AmqpSettings, HealthSettings, SoapSettings, UserSettings, display_url

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "evgrid.toml"
PASSWORDS = {"EVGRID_BILLING_PASSWORD": "pw-billing-out", "EVGRID_PORTALS_PASSWORD": "pw-portals-out",
             "EVGRID_MDM_PASSWORD": "pw-mdm-out",
             "EVGRID_BILLING_USER_PASSWORD": "pw-billing-in", "EVGRID_OPS_PASSWORD": "pw-ops"}
PORTALS_CSV = ("user,password,customer_id,usage_point_id,premise_number,portal_url\n"
               "portal-1001,pw-1001,C-1001,UP-1001,P-1001,https://portal-1.example.net\n")


def example_folder(folder: Path) -> Path:
    """examples/evgrid.toml with the files it names (relative to it) in ``folder``."""
    config = folder / "evgrid.toml"
    shutil.copy(EXAMPLE, config)
    (folder / "tls").mkdir()
    for name in ("server.pem", "server.key", "billing-ca.pem", "mdm-ca.pem", "evgrid-ca.pem"):
        (folder / "tls" / name).write_text("PEM\n", encoding="utf-8")
    (folder / "portals.csv").write_text(PORTALS_CSV, encoding="utf-8")
    (folder / "sites-gw1.json").write_text('{"sites": []}', encoding="utf-8")
    return config


def write(folder: Path, text: str) -> Path:
    config = folder / "evgrid.toml"
    config.write_text(text, encoding="utf-8")
    return config


def problems(config: Path, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        load_settings(config, environ or {})
    return raised.value.problems


MINIMAL = '[database]\nurl = "sqlite:///evgrid.db"\n[soap]\ntls = false\n'


def test_the_example_file_reads_as_documented(tmp_path: Path) -> None:
    tmp_path = tmp_path.resolve()  # the settings hold resolved paths
    config = example_folder(tmp_path)
    settings = load_settings(config, PASSWORDS | {"EVGRID_WORKER_ID": "node-1"})
    assert settings.database.url == "postgresql+psycopg://evgrid@db.example.net:5432/evgrid"
    # Relative paths are relative to the file, not to the current directory.
    assert settings.soap == SoapSettings("0.0.0.0", 8443, cert=tmp_path / "tls" / "server.pem",
                                         key=tmp_path / "tls" / "server.key")
    assert settings.soap.tls
    assert (settings.planning.start, settings.planning.hours_ahead, settings.planning.roll_hours,
            settings.clock) == (None, 24, 6, None)
    assert settings.billing is not None and settings.billing.password == "pw-billing-out"
    assert settings.billing.ca == tmp_path / "tls" / "billing-ca.pem"
    assert settings.mdm is not None and settings.mdm.password == "pw-mdm-out"
    assert settings.mdm.url == "https://mdm.example.net/soap" and settings.mdm.ca == tmp_path / "tls" / "mdm-ca.pem"
    assert settings.portals is not None and settings.portals.file == tmp_path / "portals.csv"
    assert [(g.ied, g.port, g.evos_ca) for g in settings.gateways] == [
        ("10.20.0.7:102", 8601, tmp_path / "tls" / "evgrid-ca.pem")]
    assert settings.users == (UserSettings("billing", "pw-billing-in", "billing"),
                              UserSettings("ops", "pw-ops", "utility"))
    assert settings.amqp == AmqpSettings("amqps://evgrid@mq.example.net:5671/evgrid", "evgrid", 5, 8)
    assert (settings.worker.id, settings.worker.lease_seconds) == ("node-1", 15.0)
    assert settings.health == HealthSettings("0.0.0.0", 9090)
    assert (settings.log.level, settings.log.format) == ("INFO", "json")
    # Passwords stay out of reprs (and so out of tracebacks and logs).
    assert not any(password in repr(settings) for password in PASSWORDS.values())


def test_every_problem_is_reported_at_once_with_its_key_path(tmp_path: Path) -> None:
    config = write(tmp_path, """
[database]
url = "sqlite:///evgrid.db"
[soap]
prot = 8443
port = 70000
cert = "missing.pem"
[sokap]
[planning]
start = 2026-11-26T17:00:00
hours_ahead = true
[billing]
url = "ftp://billing"
user = "evos"
password = "x"
password_env = "BILLING_PW"
[[users]]
user = "portal-1"
password_env = "PORTAL_1_PW"
kind = "portal"
customer = "C-1"
[[users]]
user = "portal-1"
password = "y"
kind = "admin"
[amqp]
url = "http://broker"
prefix = "evgrid.prod"
[log]
level = "LOUD"
""")
    assert problems(config) == [
        "sokap: unknown section (did you mean soap?)",
        "soap.prot: unknown key (did you mean port?)",
        "soap.key: cert and key go together",
        "soap.port: must be 0..65535, got 70000",
        f"soap.cert: no such file: {tmp_path / 'missing.pem'}",
        "planning.start: needs a UTC offset, e.g. 2026-11-26T17:00:00Z",
        "planning.hours_ahead: must be an integer, got True",
        "billing.url: must be an http(s) URL, got 'ftp://billing'",
        "billing: password or password_env, not both",
        "users[1].usage_point: required",
        "users[1].password_env: environment variable PORTAL_1_PW is not set",
        "users[2].user: 'portal-1' is listed twice (also users[1])",
        "users[2].kind: must be one of portal, billing, utility, got 'admin'",
        "amqp.url: must be an amqp:// or amqps:// URL, got 'http://broker'",
        "amqp.prefix: letters, digits, '_' and '-' only, got 'evgrid.prod'",
        "log.level: must be one of DEBUG, INFO, WARNING, ERROR, got 'LOUD'",
    ]


def test_the_environment_beats_the_file(tmp_path: Path) -> None:
    config = write(tmp_path, MINIMAL + '[amqp]\nurl = "amqp://file-broker"\n[worker]\nid = "from-file"\n')
    environ = {"EVGRID_DATABASE_URL": "postgresql+psycopg://evgrid:pw@db/evgrid",
               "EVGRID_AMQP_URL": "amqps://evgrid:pw@broker/evgrid", "EVGRID_WORKER_ID": "node-7"}
    settings = load_settings(config, environ)
    assert settings.database.url == environ["EVGRID_DATABASE_URL"]
    assert settings.amqp is not None and settings.amqp.url == environ["EVGRID_AMQP_URL"]
    assert settings.worker.id == "node-7"
    # Without them: the file's values; no [amqp] url anywhere: no ESB binding.
    assert load_settings(config, {}).worker.id == "from-file"
    assert load_settings(write(tmp_path, MINIMAL), {}).amqp is None


@pytest.mark.parametrize(("soap", "expected"), [
    ("", ["soap: HTTPS is required: set cert and key (or tls_dir), or tls = false behind a TLS proxy"]),
    ('tls = false\ntls_dir = "pki"', ["soap.tls: false, but tls_dir set"]),
    ('tls_dir = "pki"\ncert = "a.pem"\nkey = "a.key"', ["soap: tls_dir or cert and key, not both"]),
    ('tls = false\nclient_ca = "ca.pem"', ["soap.client_ca: needs TLS"]),
    ('tls = "yes"\ntls_dir = "pki"', ["soap.tls: must be true or false, got 'yes'"]),
])
def test_https_is_the_default(tmp_path: Path, soap: str, expected: list[str]) -> None:
    for name in ("a.pem", "a.key", "ca.pem"):
        (tmp_path / name).write_text("PEM\n", encoding="utf-8")
    assert problems(write(tmp_path, f'[database]\nurl = "sqlite:///x.db"\n[soap]\n{soap}\n')) == expected


def test_tls_dir_need_not_exist_yet_and_health_may_have_its_own_port(tmp_path: Path) -> None:
    config = write(tmp_path, '[database]\nurl = "sqlite:///x.db"\n[soap]\ntls_dir = "pki"\nport = 8443\n'
                             '[health]\nport = 9090\n')
    settings = load_settings(config, {})
    assert settings.soap.tls_dir == tmp_path / "pki" and settings.soap.tls
    assert settings.health == HealthSettings("127.0.0.1", 9090)  # the SOAP server's host by default
    clash = write(tmp_path, '[database]\nurl = "sqlite:///x.db"\n[soap]\ntls = false\nport = 8443\n'
                            '[health]\nport = 8443\n')
    assert problems(clash) == ["health.port: is the SOAP server's; leave [health] out to serve /health there"]


def test_a_missing_database_url_names_the_variable_too(tmp_path: Path) -> None:
    assert problems(write(tmp_path, "[soap]\ntls = false\n")) == ["database.url: required (or $EVGRID_DATABASE_URL)"]


def test_a_horizon_shorter_than_a_day_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Every request is planned at least a day ahead (a friend's visit at 13:00, a home night).
    assert problems(write(tmp_path, MINIMAL + "[planning]\nhours_ahead = 12\nroll_hours = 25\n")) == [
        "planning.hours_ahead: must be 24..168, got 12", "planning.roll_hours: must be 1..24, got 25"]
    with pytest.raises(SystemExit):
        main(["serve", "--database-url", "sqlite:///x.db", "--hours-ahead", "12", "--check-config"])
    assert "24..168 hours, not 12" in capsys.readouterr().err


def test_the_night_section_says_what_it_became(tmp_path: Path) -> None:
    assert problems(write(tmp_path, MINIMAL + "[night]\nslots = 64\n")) == [
        "night: renamed [planning]: start stays, slots is now hours_ahead (24..168) and roll_hours (1..24)"]


def test_unreadable_files_are_one_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as missing:
        load_settings(tmp_path / "nowhere.toml", {})
    assert missing.value.problems == ["cannot read it: No such file or directory"]
    assert problems(write(tmp_path, "[soap\n"))[0].startswith("not valid TOML: ")


def test_display_url_drops_only_the_password() -> None:
    assert display_url("postgresql+psycopg://evgrid:s3cret@db:5432/evgrid") == "postgresql+psycopg://evgrid@db:5432/evgrid"
    assert display_url("amqps://:s3cret@broker/vh") == "amqps://broker/vh"
    assert display_url("sqlite:///var/lib/evgrid.db") == "sqlite:///var/lib/evgrid.db"


def test_options_and_file_describe_the_same_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVGRID_WORKER_ID", "node-1")
    tmp_path = tmp_path.resolve()
    portals = tmp_path / "portals.csv"
    portals.write_text(PORTALS_CSV, encoding="utf-8")
    args = build_parser().parse_args([
        "serve", "--database-url", "sqlite:///x.db", "--host", "0.0.0.0", "--port", "8443",
        "--tls-dir", str(tmp_path / "pki"), "--portal", "portal-9:pw-9:C-9:UP-9", "--utility-user", "ops:pw-ops",
        "--billing-url", "https://billing.example.net", "--billing-credentials", "evos:pw-b",
        "--portals", str(portals), "--portal-credentials", "evos:pw-p", "--speed", "600",
        "--start", "2026-11-26T21:00:00+00:00", "--epoch", "1700000000", "--planning-start", "2026-11-26T17:00:00",
        "--hours-ahead", "48", "--roll-hours", "3", "--log-format", "json"])
    config = write(tmp_path, f"""
[database]
url = "sqlite:///x.db"
[soap]
host = "0.0.0.0"
port = 8443
tls_dir = "pki"
[planning]
start = 2026-11-26T17:00:00Z
hours_ahead = 48
roll_hours = 3
[clock]
speed = 600
start = 2026-11-26T21:00:00Z
epoch = 1700000000
[billing]
url = "https://billing.example.net"
user = "evos"
password = "pw-b"
[portals]
file = "{portals.name}"
user = "evos"
password_env = "PORTALS_PW"
[[users]]
user = "portal-9"
password = "pw-9"
kind = "portal"
customer = "C-9"
usage_point = "UP-9"
[[users]]
user = "ops"
password = "pw-ops"
kind = "utility"
""")
    from_file = load_settings(config, {"PORTALS_PW": "pw-p", "EVGRID_WORKER_ID": "node-1"})
    assert settings_from_args(args) == from_file
    assert from_file.planning.start == datetime(2026, 11, 26, 17, tzinfo=UTC)


def test_check_config_prints_every_problem_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write(tmp_path, '[database]\nurl = "sqlite:///x.db"\n[soap]\nport = -1\n[log]\nformat = "xml"\n')
    assert main(["serve", "--check-config", "--config", str(config)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"evgrid serve: {config}: 3 problem(s)",
        "  soap: HTTPS is required: set cert and key (or tls_dir), or tls = false behind a TLS proxy",
        "  soap.port: must be 0..65535, got -1",
        "  log.format: must be one of json, text, got 'xml'",
    ]


def test_check_config_summarises_without_secrets(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in PASSWORDS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("EVGRID_AMQP_URL", "amqps://evgrid:amqp-s3cret@mq.example.net:5671/evgrid")
    monkeypatch.setenv("EVGRID_DATABASE_URL", "postgresql+psycopg://evgrid:db-s3cret@db.example.net/evgrid")
    config = example_folder(tmp_path)
    assert main(["serve", "--check-config", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == f"evgrid serve: {config}: valid" and len(lines) < 20
    assert "  database  postgresql+psycopg://evgrid@db.example.net/evgrid" in lines
    assert f"  portals   {tmp_path / 'portals.csv'}: 1 site, as evos, CA the system store" in lines
    assert "  health    GET http://0.0.0.0:9090/health (a separate server)" in lines
    assert f"  mdm       https://mdm.example.net/soap as evos, CA {tmp_path / 'tls' / 'mdm-ca.pem'}" in lines
    assert "  amqp      amqps://evgrid@mq.example.net:5671/evgrid prefix evgrid, max_tries 5, prefetch 8" in lines
    assert "s3cret" not in out and not any(password in out for password in PASSWORDS.values())


def test_check_config_reads_the_portals_file(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in PASSWORDS.items():
        monkeypatch.setenv(name, value)
    config = example_folder(tmp_path)
    (tmp_path / "portals.csv").write_text("user,password\nportal-1,pw\n", encoding="utf-8")
    assert main(["serve", "--check-config", "--config", str(config)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"evgrid serve: {config}: 1 problem(s)" and err[1].startswith("  portals.file: ")


def test_options_beside_config_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write(tmp_path, MINIMAL)
    assert main(["serve", "--config", str(config), "--port", "9000", "--tls-dir", "pki"]) == 2
    assert capsys.readouterr().err == ("evgrid serve: --port, --tls-dir: set in the file with --config, "
                                       "not on the command line\n")


def test_gateways_are_read_and_checked(tmp_path: Path) -> None:
    (tmp_path / "sites-1.json").write_text('{"sites": []}', encoding="utf-8")
    (tmp_path / "portals.csv").write_text(PORTALS_CSV, encoding="utf-8")
    good = """
[database]
url = "sqlite:///evgrid.db"
[soap]
tls = false
[portals]
file = "portals.csv"
user = "evos"
password = "pw"
[[gateways]]
ied = "10.20.0.7:102"
sites = "sites-1.json"
port = 8601
database = "portal-1.db"
"""
    (gateway,) = load_settings(write(tmp_path, good), environ={}).gateways
    assert (gateway.ied, gateway.sites, gateway.port, gateway.database) == (
        "10.20.0.7:102", tmp_path / "sites-1.json", 8601, tmp_path / "portal-1.db")

    bad = """
[database]
url = "sqlite:///evgrid.db"
[soap]
cert = "tls.pem"
key = "tls.key"
[[gateways]]
ied = "10.20.0.7"
sites = "sites-1.json"
port = 8601
[[gateways]]
ied = "10.20.0.8:102"
sites = "missing.json"
port = 8601
"""
    (tmp_path / "tls.pem").write_text("x", encoding="utf-8")
    (tmp_path / "tls.key").write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_settings(write(tmp_path, bad), environ={})
    problems = "\n".join(refused.value.problems)
    assert "gateways: need [portals]" in problems
    assert "gateways[1].ied: must be HOST:PORT" in problems
    assert "gateways[1].evos_ca: required" in problems
    assert "gateways[2].sites:" in problems and "gateways[2].port: 8601 is also gateways[1]'s" in problems
