"""The use cases, over ports: desk (people's side: create, approve, reject, cancel, review, expire), submit (re-validate, the one
POST, reconcile), follow (one poller for every running job), sweep (what nobody else is doing), forms (the restore
form: the targets offered, step 1's check, step 2's choices, the check before it closes) and lookup (which requests
a channel may be told of)."""
