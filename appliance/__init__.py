"""The sealed DNS appliance: zone compiler, answer engine, image format and CLI."""

__version__ = "0.1.0"
