"""Control over the store: release control (freezes, exemptions, automatic halts and the
decisions audit, held in memory and written to the store before they take effect) and
deployments (their records and the DORA figures computed from them)."""
