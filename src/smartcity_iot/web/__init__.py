"""The web console: owners' portal and operators' console (FastAPI, served by uvicorn)."""
