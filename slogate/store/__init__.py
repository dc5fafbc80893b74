"""The durable store: the interface (`base`) with its two implementations, embedded SQLite (one
process) and PostgreSQL (replicas), chosen by `factory`; `copy` between them, and
`housekeeping` (retention) and `diskguard` (the free-space floor) around them."""
