"""The durable store: the interface (`base`) and its embedded SQLite implementation."""
