"""The webhook front end (`orch serve`): an ASGI app over the same use cases as the CLI.

``apps.web.app.create_app`` builds the app; ``apps.web.server`` runs it under
uvicorn with the engine thread; ``apps.web.schema`` is the published contract.
Needs the ``serve`` extra (starlette, uvicorn).
"""
