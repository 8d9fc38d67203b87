"""Reproducible studies of neural-network training dynamics."""

__version__ = "0.1.0"
