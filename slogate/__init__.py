"""slogate: the SLO and error-budget gate for continuous deployment."""

from __future__ import annotations

__version__ = "0.1.0"
