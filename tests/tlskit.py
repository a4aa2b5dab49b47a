"""The simulated ministry over HTTPS, with a certificate for 127.0.0.1 from a private CA made for the one test."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import trustme
from conftest import FIXTURES
from sitekit import EN_DIR, EN_LIST, en_listing

from monitor.sim import SimServer, SimSite, load_fixture_site

__all__ = ["TlsMinistry", "tls_ministry_in"]


@dataclass(frozen=True)
class TlsMinistry:
    site: SimSite
    base: str
    ca_file: Path


@contextlib.contextmanager
def tls_ministry_in(folder: Path) -> Iterator[TlsMinistry]:
    """Serve the saved pages over HTTPS (the English listing holding one article); the CA's PEM file is in `folder`."""
    ca = trustme.CA(organization_name="Test National Root CA")
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_context)
    ca_file = folder / "national-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    site = SimSite()
    rows = load_fixture_site(site, FIXTURES)
    site.put(EN_DIR, en_listing(rows[EN_LIST].body(), [("./t1793427.shtml", "a")]))
    with SimServer(site, tls=server_context) as server:
        yield TlsMinistry(site, server.base_url(), ca_file)
