"""Integrations with the frameworks applications run: :mod:`pgflow.contrib.asgi` (FastAPI,
Starlette, any ASGI app) and :mod:`pgflow.contrib.django`."""
