"""Certificates for TLS tests and the bench: a private CA, a certificate for 127.0.0.1 it
signed, and one signed by nobody, all made in-process with `cryptography` (a dependency of
jobterm), so no openssl binary is needed."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class Certs:
    ca: Path  # the custom CA's certificate (what --ca-cert takes)
    signed: tuple[Path, Path]  # (cert, key) for 127.0.0.1, signed by the CA
    self_signed: tuple[Path, Path]  # (cert, key) for 127.0.0.1, signed by nobody we know


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _cert(subject: str, key: Any, issuer: tuple[str, Any] | None, *, ca: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    issuer_name, issuer_key = issuer or (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _write(directory: Path, name: str, cert: x509.Certificate, key: Any) -> tuple[Path, Path]:
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def make_certs(directory: Path) -> Certs:
    """A private CA in `directory`, a certificate for 127.0.0.1 it signed, and a self-signed
    one."""
    ca_key, server_key, lone_key = _key(), _key(), _key()
    ca = _cert("jobterm test CA", ca_key, None, ca=True)
    ca_path, _ = _write(directory, "ca", ca, ca_key)
    signed = _cert("127.0.0.1", server_key, ("jobterm test CA", ca_key), ca=False)
    lone = _cert("127.0.0.1", lone_key, None, ca=False)
    return Certs(
        ca_path,
        _write(directory, "server", signed, server_key),
        _write(directory, "self-signed", lone, lone_key),
    )
