"""Notifications: incidents opened and resolved as SLOs burn, the outbox and the sinks
(Alertmanager, PagerDuty, Opsgenie, Slack, webhooks)."""
