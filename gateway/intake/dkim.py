"""Is this mail really from the operator's domain? DKIM (RFC 6376) by dkimpy (issue 4).

The second way an operator's mail is trusted, for operators who answer
through their own company's mail server instead of our submission listener:
the mail must carry a valid DKIM signature whose ``d=`` is the domain of the
operator's address (or a parent of it), AND arrive at a reply address signed
for that operator (``support+o<N>.<sig>@``). Either alone is not enough: a
signature proves the domain sent it, the reply address proves it answers
that ticket for that operator.

Keys come from DNS, or — for a domain whose keys the team pins, and for
tests — from a TOML file of ``"selector._domainkey.domain" = "v=DKIM1; …"``
(setting ``dkim_keys``), so nothing else need be trusted.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

log = logging.getLogger(__name__)
MIN_KEY_BITS = 1024


def signed_by(data: bytes, domain: str, keys: Mapping[str, str] | None = None) -> str | None:
    """The ``d=`` domain of a valid signature for ``domain`` (or a parent), else None."""
    import dkim  # here, not at the top: most mails carry no signature to check (issue 14)
    from dkim.dnsplug import get_txt

    domain = domain.lower().rstrip(".")

    def txt(name: bytes, timeout: int = 5) -> bytes | None:
        if keys is not None:
            found = keys.get(name.decode("ascii", "replace").rstrip(".").lower())
            return found.encode() if found else None
        return get_txt(name, timeout=timeout)

    checker = dkim.DKIM(data, minkey=MIN_KEY_BITS, logger=log)
    count = sum(1 for name, _ in checker.headers if name.lower() == b"dkim-signature")
    for idx in range(count):
        try:
            valid = checker.verify(idx=idx, dnsfunc=txt)
        except (dkim.DKIMException, ValueError, UnicodeError) as exc:
            log.info("DKIM signature %d does not verify: %s", idx, exc)
            continue
        signer = (checker.domain or b"").decode("ascii", "replace").lower().rstrip(".")
        if valid and (domain == signer or domain.endswith("." + signer)):
            return signer
    return None
