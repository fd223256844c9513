"""Clients share one verifying context per CA setting (loading a bundle costs 30-50 ms and an
install opens two clients), and a different setting still gets its own: a real loopback
https server with a throwaway certificate."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from support.server import serve_directory

from wheelmagic.index import http


def _cert(d: Path) -> tuple[Path, Path]:
    d.mkdir(parents=True)
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]
        + ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
        + ["-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def certs(tmp_path: Path) -> tuple[Path, Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = _cert(tmp_path / "server")
    other, _ = _cert(tmp_path / "other")
    return cert, key, other


def test_one_context_per_ca_setting_and_each_setting_is_honoured(
    tmp_path: Path, certs: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key, other = certs
    www = tmp_path / "www"
    www.mkdir()
    (www / "hello.txt").write_text("hello")
    monkeypatch.setattr(http, "_SSL_CONTEXTS", {})
    with serve_directory(www, tls=(cert, key)) as srv:
        url = srv.base_url + "hello.txt"
        assert url.startswith("https://")
        with http.make_client(str(cert)) as a, http.make_client(str(cert)) as b:
            assert a.get(url).text == b.get(url).text == "hello"
        assert len(http._SSL_CONTEXTS) == 1  # the second client reused the first's context

        with http.make_client(str(other)) as c, pytest.raises(httpx.ConnectError):
            c.get(url)  # another bundle: its own context, which does not trust this server

        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        with http.make_client() as d:
            assert d.get(url).text == "hello"
        monkeypatch.setenv("SSL_CERT_FILE", str(other))
        with http.make_client() as e, pytest.raises(httpx.ConnectError):
            e.get(url)
    assert len(http._SSL_CONTEXTS) == 4
