"""The ASGI application that `reproreview serve` and uvicorn workers load."""

from app.main import create_app

app = create_app()
