"""Many casavi accounts on one PostgreSQL: tenant files, and workers that share them.

- :mod:`bridge.fleet.config`: the fleet configuration (``[fleet]``) and its tenant files;
- :mod:`bridge.fleet.claims`: which worker works which tenant (session advisory locks);
- :mod:`bridge.fleet.worker`: ``casavi-bridge run --config FLEET.toml``;
- :mod:`bridge.fleet.status`: every tenant's state for ``status``.
"""
