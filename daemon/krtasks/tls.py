"""The daemon's TLS certificate: a self-signed one generated (and renewed) in the state dir, or the user's own.

The generated certificate is its own root so that clients can pin it as a custom trust anchor
(.NET ``X509ChainPolicy.CustomTrustStore``, ``curl --cacert``, ``requests`` ``verify=``):

- ECDSA P-256 key, SHA-256 signature, valid one year (``not_before`` 5 minutes back for clock skew);
- SAN ``localhost``, ``127.0.0.1``, ``::1`` plus the bind host when it is a specific name or address;
- BasicConstraints CA=true (critical), KeyUsage digitalSignature+keyCertSign (critical), EKU serverAuth,
  Subject/Authority Key Identifiers (OpenSSL's strict X.509 checks want them on a CA certificate).

It is renewed at start when fewer than :data:`RENEW_BEFORE` remain, when it misses a needed SAN, or
when the key does not match.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .statedir import CERT_FILE, KEY_FILE, write_private

log = logging.getLogger(__name__)

VALIDITY = dt.timedelta(days=365)
"""Lifetime of a generated certificate."""

RENEW_BEFORE = dt.timedelta(days=30)
"""A generated certificate is replaced at start when less than this remains."""

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
"""Names every generated certificate covers."""

WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "*"})
"""Bind hosts that mean "every interface": no name of their own to put in the certificate."""


class CertificateError(Exception):
    """A user-given certificate or key cannot be loaded; the message says which file and why."""


@dataclass(frozen=True)
class CertificatePaths:
    """Where the certificate (PEM) and its private key (PEM) are, and whether they were generated here."""

    cert_file: Path
    key_file: Path
    generated: bool


def required_names(host: str) -> list[str]:
    """The SAN entries a certificate for a daemon bound to ``host`` must carry (loopback plus ``host``)."""
    names = list(LOOPBACK_NAMES)
    host = host.strip("[]")
    if host not in WILDCARD_HOSTS and host.lower() not in names:
        names.append(host)
    return names


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def generate_certificate(names: list[str], now: dt.datetime | None = None) -> tuple[bytes, bytes]:
    """Create a self-signed ECDSA P-256 certificate for ``names``; return ``(cert_pem, key_pem)``.

    ``now`` (UTC, default the current time) anchors the validity period.
    """
    now = now or dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "KrTasks"),
            x509.NameAttribute(NameOID.COMMON_NAME, "KrTasks local daemon"),
        ]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _reason_to_renew(cert_file: Path, key_file: Path, names: list[str], now: dt.datetime) -> str | None:
    """Why the stored certificate must be replaced, or None when it can be reused."""
    if not cert_file.exists() or not key_file.exists():
        return "no certificate yet"
    try:
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    except (ValueError, TypeError, OSError) as exc:
        return f"the stored certificate or key is unreadable ({exc})"
    if cert.not_valid_after_utc - now < RENEW_BEFORE:
        return f"it expires {cert.not_valid_after_utc.isoformat()}"
    if key.public_key() != cert.public_key():
        return "the key does not match the certificate"
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return "it has no subject alternative names"
    have = {str(v).lower() for v in san.get_values_for_type(x509.DNSName)}
    have |= {str(v) for v in san.get_values_for_type(x509.IPAddress)}
    missing = [n for n in names if _normalise(n) not in have]
    if missing:
        return f"it does not cover {', '.join(missing)}"
    return None


def _normalise(name: str) -> str:
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        return name.lower()


def ensure_certificate(state_dir: Path, host: str, now: dt.datetime | None = None) -> CertificatePaths:
    """Return the state dir's certificate for ``host``, generating or renewing it first when needed.

    The key is written 0600 before the certificate, both atomically, so a crash never leaves a
    certificate whose key is missing.
    """
    now = now or dt.datetime.now(dt.UTC)
    cert_file, key_file = state_dir / CERT_FILE, state_dir / KEY_FILE
    names = required_names(host)
    reason = _reason_to_renew(cert_file, key_file, names, now)
    if reason is not None:
        log.info("Generating a self-signed TLS certificate for %s: %s", ", ".join(names), reason)
        cert_pem, key_pem = generate_certificate(names, now)
        write_private(key_file, key_pem)
        write_private(cert_file, cert_pem)
        cert_file.chmod(0o644)  # the certificate is public: clients pin it
    return CertificatePaths(cert_file, key_file, generated=True)


def server_context(paths: CertificatePaths) -> ssl.SSLContext:
    """Build the server-side TLS context (TLS 1.2 minimum) from ``paths``.

    Raises:
        CertificateError: the certificate or key cannot be loaded (wrong format, mismatch, unreadable).
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(certfile=str(paths.cert_file), keyfile=str(paths.key_file))
    except (ssl.SSLError, OSError) as exc:
        raise CertificateError(
            f"cannot load the certificate {paths.cert_file} with the key {paths.key_file}: {exc}"
        ) from exc
    return ctx


def client_context(cert_file: Path) -> ssl.SSLContext:
    """A client TLS context that trusts exactly ``cert_file`` (hostname checked), for ``krtasks status``."""
    return ssl.create_default_context(cafile=str(cert_file))
