"""The HTTP edge: the app and its wiring, the API's handlers, the OpenAPI document, the status
page, admin auth and the pipeline webhooks (Flagger, GitHub)."""
