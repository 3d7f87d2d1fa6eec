"""Benchmarks: scripts run by hand that print figures (not collected by pytest). See each module's docstring."""
