"""A base's own certificate authority, for HTTPS on a local Wi-Fi with no internet (browsers give service
workers and WebCrypto to secure origins only). The authority is name-constrained to the base's names and
addresses: installed on a phone, it can vouch for nothing else. Pure: PEM bytes in and out."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_YEARS = 5
SERVER_DAYS = 825  # what Apple's devices accept for a certificate from a user-installed authority


@dataclass(frozen=True)
class LocalTls:
    ca_cert: bytes
    ca_key: bytes
    server_cert: bytes  # the server's certificate, then the authority's: the chain a browser is sent
    server_key: bytes


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _name(common: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fieldapp"), x509.NameAttribute(NameOID.COMMON_NAME, common)]
    )


def make_local_tls(names: list[str], ips: list[str], now: dt.datetime | None = None) -> LocalTls:
    """An authority constrained to `names` and `ips` (single addresses), and a server certificate for them."""
    if not names and not ips:
        raise ValueError("a certificate needs at least one name or address")
    addresses = [ipaddress.ip_address(ip) for ip in ips]
    now = now or dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(f"fieldapp {names[0] if names else ips[0]}")
    networks = [ipaddress.ip_network(f"{a}/{a.max_prefixlen}") for a in addresses]
    # A kind with no permitted subtree is not constrained at all: one that matches nothing stands in for it
    # (names under .invalid, RFC 6761, and the unspecified addresses).
    permitted_names = names or ["invalid"]
    permitted_networks = networks or [ipaddress.ip_network("0.0.0.0/32"), ipaddress.ip_network("::/128")]
    constraints = x509.NameConstraints(
        permitted_subtrees=[x509.DNSName(n) for n in permitted_names] + [x509.IPAddress(n) for n in permitted_networks],
        excluded_subtrees=None,
    )
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=365 * CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(constraints, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    alternative = [x509.DNSName(n) for n in names] + [x509.IPAddress(a) for a in addresses]
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0] if names else ips[0]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now - dt.timedelta(hours=1) + dt.timedelta(days=SERVER_DAYS))  # 825 days in all
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(alternative), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    return LocalTls(
        ca_pem, _pem_key(ca_key), server_cert.public_bytes(serialization.Encoding.PEM) + ca_pem, _pem_key(server_key)
    )


def fingerprint(cert_pem: bytes) -> str:
    """SHA-256 of the certificate, as phones' settings show it: 32 pairs of hex digits separated by colons."""
    digest = x509.load_pem_x509_certificate(cert_pem).fingerprint(hashes.SHA256())
    return ":".join(f"{b:02X}" for b in digest)


def spki_sha256(cert_pem: bytes) -> str:
    """Base64 of SHA-256 over the certificate's public key (Chromium's --ignore-certificate-errors-spki-list)."""
    key = x509.load_pem_x509_certificate(cert_pem).public_key()
    spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def first_name(cert_pem: bytes) -> str | None:
    """The first name a server certificate holds (a DNS name, else an address, bracketed if IPv6), to print links
    a browser will take."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    dns = names.get_values_for_type(x509.DNSName)
    if dns:
        return dns[0]
    ips = names.get_values_for_type(x509.IPAddress)
    if not ips:
        return None
    return f"[{ips[0]}]" if ips[0].version == 6 else str(ips[0])
