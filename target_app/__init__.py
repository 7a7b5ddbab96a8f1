"""The reference server pushbench measures: one message stream over four transports."""

__all__ = ["__version__"]

__version__ = "0.1.0"
