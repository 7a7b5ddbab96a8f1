"""Load generators: the native asyncio drivers (open-loop publisher, subscribers per transport,
echo clients, raw-socket capacity clients) and the bare ASGI app they are calibrated against.
"""
