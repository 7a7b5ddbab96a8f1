"""``pushbench sweep``: uvicorn configurations (workers × loop × ws × http) and a recommendation."""
