"""The REST API under ``/api/v1/``: what every endpoint shares (``base``), who may call and do what
(``auth``), the renderer, the schema, safe retries (``idempotency``), and one module per resource.
Other apps' API modules take the shared pieces from ``base`` and ``auth``, never from a resource."""
