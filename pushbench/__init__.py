"""pushbench: should this real-time feature use WebSocket push or HTTP polling?"""

__all__ = ["__version__"]

__version__ = "0.1.0"
