"""The composition root: ``wiring`` turns Settings into every part's rules and objects,
``parts`` builds what ``serve`` starts, ``gateway`` starts and stops them, ``runs`` does
the one-shot sweep and import. Nothing imports this package but ``cli`` (and the test
helpers of ``gateway.testing``)."""
