"""The pure core: durations, alert windows, the SLO model, budget and burn-rate math, snapshots,
overrides, gate policy and decisions, answers, incidents. No I/O and no format library: only the
standard library and this package."""
