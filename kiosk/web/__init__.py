"""The web kiosk: a FastAPI app serving a touch-first practice UI, trainer pages and their API."""
