"""The SQL checks of a restored target over the MySQL protocol (the TargetProbe adapter, bot.ports)."""
