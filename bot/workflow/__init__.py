"""The use cases, over ports: requests (create, approve, reject, cancel, expire), submit (re-validate, the one
POST, reconcile), follow (one poller for every running job) and sweep (what nobody else is doing)."""
