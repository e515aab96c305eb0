"""The Pulumi program: the whole pipeline as Docker containers (`pulumi up` at the repo root).

Importable on purpose: `components/` holds one `ComponentResource` per service, `__main__.py`
only wires them. Nothing here imports `pulumi` at package level, so the in-container helpers
(`init_tasks`, `healthcheck`) run in the project image without touching the Pulumi SDK.
"""
