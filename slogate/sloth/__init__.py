"""Sloth compatibility, pure: the spec formats, their validation, the PromQL parser Sloth's
validation needs, and the recording and alerting rules Sloth generates. Imports only the core."""
