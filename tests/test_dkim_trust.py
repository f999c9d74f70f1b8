"""An operator answering through their own mail server: DKIM + their signed reply address.

Real RSA keys and real signatures (dkimpy); the public key is pinned in the
``dkim_keys`` file instead of DNS, which is also how a team pins its keys.
The mail travels over the main SMTP listener, as it would from the
operator's company MTA.
"""

from __future__ import annotations

import base64
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.mail import reply_address
from gateway.testing import RunningGateway, running_gateway
from tests.helpers import SUPPORT, mail, send, show, wire

OPERATOR = "anna@example.com"


def _keypair() -> tuple[bytes, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(public).decode()


@pytest.fixture(scope="module")
def keys() -> tuple[bytes, str]:
    return _keypair()


def _signed(data: bytes, private: bytes, domain: str = "example.com") -> bytes:
    signature = dkim.sign(
        data,
        b"sel",
        domain.encode(),
        private,
        include_headers=[b"from", b"to", b"subject", b"message-id"],
    )
    return signature + data


def _gateway(settings, clock, tmp_path: Path, public: str):
    pinned = tmp_path / "dkim.toml"
    pinned.write_text(f'"sel._domainkey.example.com" = "v=DKIM1; k=rsa; p={public}"\n')
    return running_gateway(settings, clock, dkim_keys=str(pinned), operator_copies=False)


def _ticket(gw: RunningGateway) -> str:
    gw.gateway.wiring.desk.add_operator("Анна", OPERATOR, None)
    assert send(gw, mail())[0] == 250
    return reply_address.make(SUPPORT, gw.gateway.secret, "o", 1, bound=OPERATOR)


def test_a_dkim_signed_reply_to_the_operators_address_is_the_operators(
    settings, clock, tmp_path, keys
):
    """Signed by the operator's domain and sent to their reply address: a real reply."""
    private, public = keys
    with _gateway(settings, clock, tmp_path, public) as gw:
        to = _ticket(gw)
        reply = wire(
            mail("Re: [#1] Не работает сайт", "Перезапустили PHP.", sender=OPERATOR, to=to)
        )
        assert send(gw, _signed(reply, private), sender=OPERATOR, rcpts=(to,))[0] == 250
        ticket = show(gw, 1)
        assert ticket["status"] == "awaiting_customer"
        assert ticket["messages"][-1]["author"] == "operator"
        assert any("DKIM signature of example.com" in t for t in ticket["messages"][-1]["trace"])


@pytest.mark.parametrize(
    "how",
    ["unsigned", "tampered", "other-domain-key", "plain-ticket-address"],
)
def test_without_both_proofs_the_mail_is_a_strangers(settings, clock, tmp_path, keys, how):
    """No signature, a broken one, a wrong key, or not the operator's own address: held."""
    private, public = keys
    with _gateway(settings, clock, tmp_path, public) as gw:
        to = _ticket(gw)
        if how == "plain-ticket-address":
            to = reply_address.make(SUPPORT, gw.gateway.secret, "t", 1)
        data = wire(mail("Re: [#1] Не работает сайт", "#close", sender=OPERATOR, to=to))
        if how != "unsigned":
            other, _ = _keypair() if how == "other-domain-key" else (private, public)
            data = _signed(data, other)
        if how == "tampered":
            data = data.replace(b"#close", b"#CLOSE")
        assert send(gw, data, sender=OPERATOR, rcpts=(to,))[0] == 250
        ticket = show(gw, 1)
        assert ticket["status"] == "awaiting_operator"
        assert ticket["messages"][-1]["flags"] == ["held"]


def test_dkim_trust_can_be_switched_off(settings, clock, tmp_path, keys):
    """operator_dkim = false: only the submission listener makes an operator."""
    private, public = keys
    pinned = tmp_path / "dkim.toml"
    pinned.write_text(f'"sel._domainkey.example.com" = "v=DKIM1; k=rsa; p={public}"\n')
    with running_gateway(
        settings, clock, dkim_keys=str(pinned), operator_dkim=False, operator_copies=False
    ) as gw:
        to = _ticket(gw)
        data = _signed(wire(mail("Re: [#1]", "#close", sender=OPERATOR, to=to)), private)
        assert send(gw, data, sender=OPERATOR, rcpts=(to,))[0] == 250
        assert show(gw, 1)["status"] == "awaiting_operator"
