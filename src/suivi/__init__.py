"""Suivi: a self-hostable post-purchase platform."""

__version__ = "0.1.0"
