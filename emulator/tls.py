"""A throwaway certificate authority and server certificate for the twin.

azure-core refuses to send bearer tokens over plain HTTP, so the twin must speak HTTPS; clients
trust it through the CA file (``connection_verify=`` or ``REQUESTS_CA_BUNDLE``). The CA lives only
as long as the twin.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class TlsMaterial:
    ca_path: Path  # PEM of the CA that signed the server certificate
    server_context: ssl.SSLContext

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_path))


def create(directory: Path) -> TlsMaterial:
    authority = trustme.CA(organization_name="Foundry Guard local twin")
    leaf = authority.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    ca_path = directory / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_path))
    return TlsMaterial(ca_path.resolve(), context)
