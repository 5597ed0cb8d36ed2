"""The operator's status page: what one daemon (or fleet worker) knows about each of its tenants,
served as HTML on the metrics listener, with one action ("retry now" for a quarantined item)."""
