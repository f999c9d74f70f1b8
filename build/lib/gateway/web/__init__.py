"""The support page (issue 7): customers and operators in a browser.

Server-rendered (Starlette + Jinja2, a few lines of progressive JavaScript).
Nothing here decides anything about a ticket: a customer's form becomes a
mail through the intake pipeline, an operator's button becomes the same
``operations`` call as ``helpdesk ticket …``. ``app`` hands this package plain
values and the gateway's parts (:mod:`gateway.web.backend`); it never reads the
configuration itself. ``page`` holds what every page shares, ``site`` builds
the application from the pages: the imports run one way.
"""
