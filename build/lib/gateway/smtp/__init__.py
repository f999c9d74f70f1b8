"""The SMTP/LMTP edge (aiosmtpd). Checks cheaply, hands off, maps outcomes to replies.

Knows neither the store nor the domain: ``app`` hands it the functions it calls.
"""
