"""The HTTP API and the search page (``searcher serve``).

``create_app(engine)`` returns an ASGI application (FastAPI), so an existing Python service
can mount it; ``searcher serve`` runs it with uvicorn.  Importing this package imports the
web stack, which is why the CLI imports it only inside the ``serve`` command.
"""

from .app import WebOptions, create_app

__all__ = ["WebOptions", "create_app"]
