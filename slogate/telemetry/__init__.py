"""slogate's own telemetry: Prometheus metrics, OpenTelemetry traces, JSON logs."""
