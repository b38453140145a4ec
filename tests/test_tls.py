"""A base's own authority: it vouches for the base's names and addresses alone, and the server serves with it."""

from __future__ import annotations

import datetime as dt
import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import verification

from fieldapp.crypto import tls

from .test_dashboard_reports import login


def verify(made: tls.LocalTls, name: x509.GeneralName, leaf_pem: bytes | None = None) -> None:
    ca = x509.load_pem_x509_certificate(made.ca_cert)
    leaf = x509.load_pem_x509_certificate(leaf_pem or made.server_cert)
    verifier = verification.PolicyBuilder().store(verification.Store([ca])).build_server_verifier(name)
    verifier.verify(leaf, [])


def test_the_server_certificate_is_trusted_for_the_base_and_nothing_else() -> None:
    made = tls.make_local_tls(["base.local"], ["192.168.10.5"])
    verify(made, x509.DNSName("base.local"))
    verify(made, x509.IPAddress(ipaddress.ip_address("192.168.10.5")))
    for other in (x509.DNSName("bank.example"), x509.IPAddress(ipaddress.ip_address("192.168.10.6"))):
        with pytest.raises(verification.VerificationError):
            verify(made, other)
    ca = x509.load_pem_x509_certificate(made.ca_cert)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0
    assert ca.extensions.get_extension_for_class(x509.NameConstraints).critical
    assert made.server_cert.count(b"BEGIN CERTIFICATE") == 2  # the chain: the server's, then the authority's
    assert len(tls.fingerprint(made.ca_cert)) == 95 and len(tls.spki_sha256(made.ca_cert)) == 44


def forged_by(made: tls.LocalTls, name: x509.GeneralName) -> bytes:
    """A certificate for `name` signed with the base authority's own key, as a thief of that key would make."""
    ca_key = serialization.load_pem_private_key(made.ca_key, None)
    ca = x509.load_pem_x509_certificate(made.ca_cert)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    forged = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "forged")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([name]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.public_key()), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return forged.public_bytes(serialization.Encoding.PEM)


@pytest.mark.parametrize(
    ("names", "ips"), [(["base.local"], []), ([], ["192.168.10.5"]), (["base.local"], ["10.0.0.2"])]
)
def test_a_stolen_authority_key_cannot_vouch_for_another_site(names, ips) -> None:
    """The name constraints hold even for a certificate its own key signs, whichever of names and addresses
    the base was made with: installed on a phone, the authority is harmless elsewhere."""
    made = tls.make_local_tls(names, ips)
    for other in (x509.DNSName("bank.example"), x509.IPAddress(ipaddress.ip_address("8.8.8.8"))):
        with pytest.raises(verification.VerificationError, match="constraint|match"):
            verify(made, other, forged_by(made, other))
    # The same forgery for the base's own name passes: what refuses the others is the constraint, nothing else.
    own = x509.DNSName(names[0]) if names else x509.IPAddress(ipaddress.ip_address(ips[0]))
    verify(made, own, forged_by(made, own))


def test_the_server_certificate_lasts_825_days_at_most() -> None:
    leaf = x509.load_pem_x509_certificate(tls.make_local_tls(["base.local"], []).server_cert)
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == dt.timedelta(days=825)


def test_tls_init_writes_the_files_once_and_serve_needs_them(app, runner) -> None:
    folder = app.config["FIELDAPP"].tls_dir
    refused = runner.invoke(args=["serve", "--tls"])
    assert refused.exit_code != 0 and "fieldapp tls init" in refused.output
    result = runner.invoke(args=["tls", "init", "--name", "base.local", "--ip", "192.168.10.5"])
    assert result.exit_code == 0, result.output
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in folder.iterdir()}
    assert modes == {"ca.pem": "0o644", "ca-key.pem": "0o600", "server.pem": "0o644", "server-key.pem": "0o600"}
    fingerprint = tls.fingerprint((folder / "ca.pem").read_bytes())
    assert fingerprint in result.output
    assert runner.invoke(args=["tls", "show"]).output.strip() == fingerprint
    again = runner.invoke(args=["tls", "init", "--name", "otra.local"])
    assert again.exit_code != 0 and "Ya hay certificados" in again.output
    assert tls.fingerprint((folder / "ca.pem").read_bytes()) == fingerprint  # nothing replaced
    bad = runner.invoke(args=["tls", "init", "--ip", "no-es-una-ip"])
    assert bad.exit_code != 0


def test_serve_with_tls_prints_its_setup_link_with_a_name_the_certificate_holds(app, runner, monkeypatch) -> None:
    from fieldapp import server as serving

    monkeypatch.setattr(serving, "serve_with_gunicorn", lambda *args, **kwargs: None)
    monkeypatch.setattr(serving, "serve_with_werkzeug", lambda *args, **kwargs: None)
    monkeypatch.setattr(serving, "start_forwarder", lambda seconds: None)
    assert runner.invoke(args=["tls", "init", "--name", "base.local", "--ip", "192.168.10.5"]).exit_code == 0
    served = runner.invoke(args=["serve", "--tls", "--host", "0.0.0.0"])
    assert served.exit_code == 0, served.output
    assert "https://base.local:5000/setup/" in served.output and "https://127.0.0.1" not in served.output


@pytest.mark.parametrize(
    "names,ips,first",
    [
        (["base.local"], ["192.168.1.2"], "base.local"),
        ([], ["192.168.1.2"], "192.168.1.2"),
        ([], ["fd00::5"], "[fd00::5]"),
    ],
)
def test_the_first_name_of_a_certificate_is_what_links_use(names, ips, first) -> None:
    assert tls.first_name(tls.make_local_tls(names, ips).server_cert) == first


def test_the_admin_is_offered_the_authority_and_its_fingerprint(org, client, app, runner) -> None:
    login(client, "ana")
    assert "Certificado de esta base" not in client.get("/dashboard/teams").get_data(as_text=True)
    assert client.get("/dashboard/tls/ca.pem").status_code == 404
    assert runner.invoke(args=["tls", "init", "--name", "base.local"]).exit_code == 0
    ca = (app.config["FIELDAPP"].tls_dir / "ca.pem").read_bytes()
    page = client.get("/dashboard/teams").get_data(as_text=True)
    assert tls.fingerprint(ca) in page
    answer = client.get("/dashboard/tls/ca.pem")
    assert answer.status_code == 200 and answer.data == ca and b"PRIVATE" not in answer.data
