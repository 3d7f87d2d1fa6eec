"""The use cases, over ports: desk (people's side: create, approve, reject, cancel, review, expire), submit (re-validate, the one
POST, reconcile), follow (one poller for every running job) and sweep (what nobody else is doing)."""
