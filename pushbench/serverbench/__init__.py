"""``pushbench serverbench``: what one server can do per uvicorn WebSocket implementation."""
