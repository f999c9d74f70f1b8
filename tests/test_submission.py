"""The operators' submission listener: STARTTLS, then AUTH, then mail as yourself (issue 4)."""

from __future__ import annotations

import asyncio
import hashlib
import pickle
import smtplib
import ssl
import stat
from base64 import b64encode
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import pytest
from sqlalchemy import select

from gateway.app.gateway import Gateway
from gateway.config import ConfigError, load_settings
from gateway.outcome import Delivery, Origin, Outcome, Trust
from gateway.smtp import replies, tls
from gateway.store.tables import RawMail
from gateway.testing import RunningGateway, running_gateway
from tests.helpers import SUPPORT, mail, send, wire

OPERATOR = "anna@example.com"
PASSWORD = "secret-pass"
LISTEN = "smtp://127.0.0.1:0"


def _insecure() -> ssl.SSLContext:
    """A client context that accepts the self-signed certificate (as an operator who pinned it)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


@contextmanager
def submission(settings, clock, **overrides) -> Iterator[RunningGateway]:
    """A gateway with submission on, and the operator Анна <anna@example.com> with a password."""
    with running_gateway(settings, clock, submission_listen=LISTEN, **overrides) as gw:
        gw.gateway.wiring.desk.add_operator("Анна", OPERATOR, PASSWORD)
        yield gw


@contextmanager
def client(gw: RunningGateway, *, starttls: bool = True) -> Iterator[smtplib.SMTP]:
    assert gw.gateway.submission_bound is not None
    host, port = gw.gateway.submission_bound
    with smtplib.SMTP(host, port, timeout=30) as c:
        c.ehlo("laptop.example.com")
        if starttls:
            c.starttls(context=_insecure())
            c.ehlo("laptop.example.com")
        yield c


def auth_plain(c: smtplib.SMTP, login: str, password: str) -> tuple[int, str]:
    """AUTH PLAIN with a UTF-8 initial response (smtplib's own encodes ASCII only)."""
    blob = b64encode(f"\0{login}\0{password}".encode()).decode()
    code, text = c.docmd("AUTH", f"PLAIN {blob}")
    return code, text.decode()


def raw_mails(gw: RunningGateway) -> list[RawMail]:
    with gw.gateway.sessions() as s:
        return list(s.scalars(select(RawMail).order_by(RawMail.id)))


def served_fingerprint(gw: RunningGateway) -> str:
    """SHA-256 of the certificate the listener presents after STARTTLS."""
    with client(gw) as c:
        der = c.sock.getpeercert(binary_form=True)
    return hashlib.sha256(der).hexdigest()


def file_fingerprint(path) -> str:
    return tls.fingerprint(path).replace(":", "").lower()


def test_submission_is_off_unless_configured(gateway, settings):
    """With HELPDESK_SUBMISSION_LISTEN empty nothing listens and no certificate is made."""
    assert gateway.gateway.submission_bound is None
    assert not (settings.data_dir / "tls").exists()
    assert send(gateway, mail())[0] == 250


def test_auth_is_not_offered_before_starttls(settings, clock):
    """Before STARTTLS: STARTTLS offered, AUTH not; AUTH and MAIL are refused with 530."""
    with submission(settings, clock) as gw, client(gw, starttls=False) as c:
        assert c.has_extn("starttls") and not c.has_extn("auth")
        code, text = auth_plain(c, OPERATOR, PASSWORD)
        assert (code, text) == (530, replies.STARTTLS_FIRST[4:])
        code, text = c.mail(OPERATOR)
        assert code == 530 and text.decode().startswith("5.7.0")


def test_auth_plain_after_starttls_then_mail_is_stored(settings, clock):
    """STARTTLS, AUTH PLAIN with the right password: 235, and the mail is stored (250)."""
    with submission(settings, clock) as gw, client(gw) as c:
        assert "PLAIN" in c.esmtp_features["auth"] and "LOGIN" in c.esmtp_features["auth"]
        assert auth_plain(c, OPERATOR, PASSWORD)[0] == 235
        code, text = c.mail(OPERATOR)
        assert code == 250, text
        assert c.rcpt(SUPPORT)[0] == 250
        code, text = c.data(wire(mail(sender=OPERATOR, body="Перезапустили nginx.")))
        assert code == 250 and text.decode().startswith("2.0.0"), text
        [raw] = raw_mails(gw)
        assert (raw.source, raw.mail_from) == ("submission", OPERATOR)


def test_auth_login_with_smtplib(settings, clock):
    """smtplib's own login() (AUTH LOGIN here) works after STARTTLS; mail is accepted."""
    with submission(settings, clock) as gw, client(gw) as c:
        c.user, c.password = OPERATOR, PASSWORD
        code, text = c.auth("LOGIN", c.auth_login, initial_response_ok=False)
        assert code == 235, text
        c.sendmail(OPERATOR, [SUPPORT], wire(mail(sender=OPERATOR)))
        assert len(raw_mails(gw)) == 1


def test_login_by_operator_name_and_any_case_of_address(settings, clock):
    """The login is the operator's address in any case, or the operator's NAME."""
    with submission(settings, clock) as gw:
        for login in ("Анна", "Anna@Example.COM"):
            with client(gw) as c:
                assert auth_plain(c, login, PASSWORD)[0] == 235, login
                assert c.mail(OPERATOR)[0] == 250


@pytest.mark.parametrize(
    ("login", "password"),
    [(OPERATOR, "wrong-pass"), ("nobody@example.com", PASSWORD), ("", ""), ("Анна", "")],
)
def test_wrong_credentials_get_535(settings, clock, login, password):
    """A wrong password or an unknown login: 535 5.7.8 with a sentence; still not logged in."""
    with submission(settings, clock) as gw, client(gw) as c:
        code, text = auth_plain(c, login, password)
        assert (code, text) == (535, replies.AUTH_FAILED[4:])
        assert c.mail(OPERATOR)[0] == 530


def test_operator_without_password_cannot_log_in(settings, clock):
    """An operator added without --password-stdin has no submission login."""
    with submission(settings, clock) as gw:
        gw.gateway.wiring.desk.add_operator("Борис", "boris@example.com", None)
        with client(gw) as c:
            assert auth_plain(c, "boris@example.com", "")[0] == 535


def test_mail_without_auth_is_refused_with_530(settings, clock):
    """After STARTTLS but without AUTH: MAIL gets 530 5.7.0 and a sentence saying to log in."""
    with submission(settings, clock) as gw:
        with client(gw) as c:
            code, text = c.mail(OPERATOR)
            assert (code, text.decode()) == (530, replies.AUTH_REQUIRED[4:])
        assert raw_mails(gw) == []  # while the gateway runs: its engine is disposed on stop


def test_sender_must_be_the_login(settings, clock):
    """MAIL FROM another address than the login: 553 5.7.1; the login's own is accepted."""
    with submission(settings, clock) as gw, client(gw) as c:
        assert auth_plain(c, OPERATOR, PASSWORD)[0] == 235
        for other in ("ivan@example.ru", "boris@example.com", "<>"):
            code, text = c.mail(other)
            assert code == 553 and text.decode().startswith("5.7.1"), other
            assert "does not match your login" in text.decode()
        assert c.mail(OPERATOR.upper())[0] == 250


def test_submission_is_not_a_relay(settings, clock):
    """Recipients on submission: the support address and its + subaddresses only."""
    with submission(settings, clock) as gw, client(gw) as c:
        auth_plain(c, OPERATOR, PASSWORD)
        c.mail(OPERATOR)
        code, text = c.rcpt("ivan@example.ru")
        assert code == 550 and text.decode().startswith("5.1.1")
        assert c.rcpt("support+t1.abc@example.com")[0] == 250


@pytest.mark.writer_process
def test_the_authenticated_operator_reaches_intake(settings, clock):
    """The Delivery carries the login (through the writer process); the main listener's does not."""

    @dataclass
    class Recording(Gateway):
        seen: list[Delivery] = field(default_factory=list)

        async def deliver(self, delivery: Delivery) -> Outcome:
            self.seen.append(delivery)
            return await super().deliver(delivery)

    gw = Recording(replace(settings, submission_listen=LISTEN), clock)
    gw.init_database()
    running = RunningGateway(gw).start()
    try:
        gw.wiring.desk.add_operator("Анна", OPERATOR, PASSWORD)
        with client(running) as c:
            auth_plain(c, OPERATOR, PASSWORD)
            c.sendmail(OPERATOR, [SUPPORT], wire(mail(sender=OPERATOR)))
        send(running, mail())
    finally:
        running.stop()
    assert [(d.origin, d.trust, d.login) for d in gw.seen] == [
        (Origin.SUBMISSION, Trust.OPERATOR_LOGIN, OPERATOR),
        (Origin.SMTP, Trust.CLAIM, None),
    ]
    assert settings.intake_writer == "process"  # so the login crossed the pipe as a pickle


def test_delivery_with_a_login_pickles():
    """The intake writer's pipe carries Delivery as a pickle: the login survives it."""
    d = Delivery(OPERATOR, (SUPPORT,), b"x", Origin.SUBMISSION, Trust.OPERATOR_LOGIN, OPERATOR)
    assert pickle.loads(pickle.dumps(d)) == d
    assert Delivery(None, (), b"").login is None


def test_certificate_is_made_once_and_reused(settings, clock):
    """No certificate configured: one is generated into the data dir, key 0600, reused later."""
    cert = settings.data_dir / "tls" / "submission.crt"
    key = settings.data_dir / "tls" / "submission.key"
    with submission(settings, clock) as gw:
        first = served_fingerprint(gw)
    assert cert.is_file() and key.is_file()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert first == file_fingerprint(cert)
    before = (cert.read_bytes(), key.read_bytes())
    with running_gateway(settings, clock, submission_listen=LISTEN) as gw:
        assert served_fingerprint(gw) == first
    assert (cert.read_bytes(), key.read_bytes()) == before


def test_configured_certificate_is_used(settings, clock, tmp_path):
    """HELPDESK_SUBMISSION_CERT/KEY: that pair is served and nothing is generated."""
    cert, key = tls.ensure_self_signed(tmp_path / "own", "mail.example.com")
    with submission(settings, clock, submission_cert=str(cert), submission_key=str(key)) as gw:
        assert served_fingerprint(gw) == file_fingerprint(cert)
    assert not (settings.data_dir / "tls").exists()


def test_missing_certificate_file_is_a_clear_error(settings, clock, tmp_path):
    """A configured certificate that is not there stops the start with a sentence, not a trace."""
    missing = tmp_path / "nope.crt"
    gw = Gateway(replace(settings, submission_listen=LISTEN, submission_cert=str(missing)), clock)
    gw.init_database()
    try:
        with pytest.raises(ConfigError, match=r"nope\.crt: no such file"):
            asyncio.run(gw.start())  # refused before anything starts
    finally:
        gw.close()


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"HELPDESK_SUBMISSION_LISTEN": "lmtp://127.0.0.1:5870"}, "must be smtp://"),
        ({"HELPDESK_SUBMISSION_LISTEN": "smtp://127.0.0.1"}, "must look like"),
        ({"HELPDESK_SUBMISSION_KEY": "/etc/k.pem"}, "without HELPDESK_SUBMISSION_CERT"),
    ],
)
def test_bad_submission_settings_are_refused(tmp_path, env, problem):
    """Malformed submission settings stop the start with what to fix."""
    with pytest.raises(ConfigError, match=problem):
        load_settings(environ=env, data_dir=tmp_path)


def test_wrong_passwords_are_throttled_for_every_instance_on_the_database(settings, clock):
    """Issue 14.9: after 5 wrong passwords even the right one gets 454, at another instance too."""
    with submission(settings, clock) as first, running_gateway(
        settings, clock, submission_listen=LISTEN
    ) as second:
        with client(first) as c:
            for _ in range(5):
                assert auth_plain(c, OPERATOR, "guess")[0] == 535
            code, text = auth_plain(c, OPERATOR, PASSWORD)
            assert (code, text[:5]) == (454, "4.7.0"), text
        with client(second) as c:
            code, text = auth_plain(c, OPERATOR, PASSWORD)
            assert (code, text[:5]) == (454, "4.7.0"), text
        clock.advance(minutes=16)  # the window passes: the right password works again
        with client(second) as c:
            assert auth_plain(c, OPERATOR, PASSWORD)[0] == 235


def test_one_address_guessing_many_logins_is_throttled(settings, clock):
    """Issue 14.9: 20 wrong passwords from one address, over many logins, stop that address."""
    with submission(settings, clock) as gw, client(gw) as c:
        for n in range(20):
            assert auth_plain(c, f"guess{n}@example.com", "guess")[0] == 535
        code, text = auth_plain(c, OPERATOR, PASSWORD)
        assert (code, text[:5]) == (454, "4.7.0"), text
