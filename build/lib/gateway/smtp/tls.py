"""The submission listener's TLS: a configured certificate, or one made on first start.

STARTTLS (RFC 3207) must work out of the box (issue 4), and the standard
library cannot create a certificate, so with none configured a self-signed
one for the gateway's domain is generated with ``cryptography`` into the data
directory and reused on every later start. Mail clients will ask the operator
to trust it once (or pin it); a real certificate replaces it by setting
``HELPDESK_SUBMISSION_CERT`` and ``HELPDESK_SUBMISSION_KEY``.

The key file is created mode 0600; generation holds a lock on the directory,
so two instances starting at once on one data directory end up with one pair.
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CERT_NAME = "submission.crt"
KEY_NAME = "submission.key"
VALID_FOR = timedelta(days=3650)


class TlsError(Exception):
    """The certificate or key cannot be used; the message says which file and why."""


def ensure_self_signed(
    directory: Path,
    hostname: str,
    *,
    extra_names: tuple[str, ...] = (),
    now: datetime | None = None,
) -> tuple[Path, Path]:
    """``directory``/submission.crt and .key: made once, then reused as they are.

    ``now`` is wall-clock time by default: clients check validity against
    their own clock, not the gateway's injected one.
    """
    cert_path, key_path = directory / CERT_NAME, directory / KEY_NAME
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (cert_path.exists() and key_path.exists()):  # another instance won the race
            key_pem, cert_pem = _generate(hostname, extra_names, now or datetime.now(UTC))
            _write(key_path, key_pem, 0o600)
            _write(cert_path, cert_pem, 0o644)
    return cert_path, key_path


def server_context(cert: Path, key: Path | None) -> ssl.SSLContext:
    """A server-side context (TLS 1.2 or later) that does not ask clients for certificates."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    for path in (cert, key):
        if path is not None and not path.is_file():
            raise TlsError(f"{path}: no such file; check HELPDESK_SUBMISSION_CERT and _KEY")
    try:
        context.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise TlsError(
            f"cannot use the certificate {cert} with the key {key or cert}: {exc}; "
            "both must be PEM and belong together"
        ) from None
    return context


def fingerprint(cert: Path) -> str:
    """SHA-256 of the certificate, as operators compare it in their mail client."""
    loaded = x509.load_pem_x509_certificate(cert.read_bytes())
    return loaded.fingerprint(hashes.SHA256()).hex(":").upper()


def _generate(hostname: str, extra_names: tuple[str, ...], now: datetime) -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    hostname = hostname.encode("idna").decode("ascii")  # a DNS name is ASCII (A-labels)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    alt: list[x509.GeneralName] = [x509.DNSName(hostname)]
    for extra in extra_names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(extra)))
        except ValueError:
            alt.append(x509.DNSName(extra))
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + VALID_FOR)
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write beside, then rename: a crash never leaves half a PEM file behind."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
