"""TLS options and figures without sockets: the config, the CLI's refusals, the cost rows."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pushbench.cli.app import app
from pushbench.core.schema import Scenario, load_results
from pushbench.core.server_config import ServerConfig, TlsFilesMismatch
from pushbench.core.tls_cost import plain_name, tls_cost
from pushbench.harness.client_tls import CA_ENV, client_ssl, trusting
from pushbench.harness.throwaway_ca import TlsFiles, make_tls_files

FIXTURE = Path(__file__).parent.parent / "fixtures" / "results-v2.json"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


def test_the_server_config_passes_uvicorns_tls_options(files: TlsFiles) -> None:
    config = ServerConfig(ssl_keyfile=str(files.keyfile), ssl_certfile=str(files.certfile))
    args = config.uvicorn_args()
    assert config.tls
    assert args[args.index("--ssl-keyfile") + 1] == str(files.keyfile)
    assert args[args.index("--ssl-certfile") + 1] == str(files.certfile)
    assert "--ssl-keyfile" not in ServerConfig().uvicorn_args()
    assert not ServerConfig().tls


@pytest.mark.parametrize("given", ["ssl_keyfile", "ssl_certfile"])
def test_one_tls_file_without_the_other_is_refused(given: str) -> None:
    with pytest.raises(TlsFilesMismatch, match="needs --ssl-"):
        ServerConfig(**{given: "x.pem"})  # type: ignore[arg-type]


def test_the_throwaway_files_are_pem_and_the_key_is_private(files: TlsFiles) -> None:
    assert files.ca_file.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    assert files.certfile.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    assert b"PRIVATE KEY" in files.keyfile.read_bytes()
    assert files.keyfile.stat().st_mode & 0o077 == 0


def test_clients_use_tls_for_tls_urls_only(files: TlsFiles) -> None:
    assert client_ssl("ws://127.0.0.1:1/ws") is None
    assert client_ssl("http://127.0.0.1:1/") is None
    before = os.environ.get(CA_ENV)
    with trusting(files.ca_file):
        assert os.environ[CA_ENV] == str(files.ca_file)
        context = client_ssl("wss://127.0.0.1:1/ws")
        assert context is not None
        assert context.check_hostname
        assert client_ssl("https://127.0.0.1:1/") is context
    assert os.environ.get(CA_ENV) == before


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["serve", "--ssl-keyfile", "{key}"], "--ssl-keyfile needs --ssl-certfile"),
        (["serve", "--ssl-certfile", "{cert}"], "--ssl-certfile needs --ssl-keyfile"),
        (
            ["serve", "--ssl-keyfile", "/nonexistent/k.pem", "--ssl-certfile", "{cert}"],
            "cannot read it",
        ),
        (["serve", "--ssl-keyfile", "{cert}", "--ssl-certfile", "{cert}"], "do not load"),
        (
            ["compare", "--tls", "--ssl-keyfile", "{key}", "--ssl-certfile", "{cert}"],
            "not both",
        ),
        (
            ["ramp", "--tls", "--ssl-keyfile", "{key}", "--ssl-certfile", "{cert}"],
            "not both",
        ),
        (["ramp", "--ssl-keyfile", "{key}"], "--ssl-keyfile needs --ssl-certfile"),
        (["compare", "--tls", "--target", "http://127.0.0.1:1"], "--target is already"),
        (["compare", "--tls", "--stalled-subscribers", "2"], "ws:// only"),
    ],
)
def test_bad_tls_options_exit_2_with_one_line(files: TlsFiles, args: list[str], says: str) -> None:
    filled = [a.format(key=files.keyfile, cert=files.certfile) for a in args]
    code, output = _run(*filled)
    assert code == 2, output
    assert says in " ".join(output.split()), output
    assert output.strip().startswith("error:"), output


def _flavor(scenario: Scenario, name: str, tls: bool, cpu_s: float) -> Scenario:
    assert scenario.server is not None
    server = scenario.server.model_copy(
        update={"cpu_s": cpu_s, "cpu_us_per_delivered_msg": cpu_s * 1e6 / scenario.delivered}
    )
    params = {**scenario.params, "flavor": "asgi", "tls": tls}
    return scenario.model_copy(update={"name": name, "params": params, "server": server})


def test_tls_cost_pairs_plain_and_tls_runs_of_a_scenario() -> None:
    document = load_results(FIXTURE)
    ws = next(s for s in document.scenarios if s.transport == "ws" and s.server is not None)
    plain = _flavor(ws, "ws@asgi", tls=False, cpu_s=1.0)
    secure = _flavor(ws, "ws@tls@asgi", tls=True, cpu_s=1.5)
    assert plain_name(secure) == "ws@asgi"
    (row,) = tls_cost([plain, secure, _flavor(ws, "ws@fastapi", tls=False, cpu_s=2.0)])
    assert (row.plain_scenario, row.tls_scenario, row.flavor) == ("ws@asgi", "ws@tls@asgi", "asgi")
    assert row.extra_cpu_us_per_delivered_msg == pytest.approx(0.5e6 / ws.delivered)
    assert row.extra_cpu_us_per_http_request is None  # a WebSocket makes no HTTP requests
    assert tls_cost([plain]) == []
