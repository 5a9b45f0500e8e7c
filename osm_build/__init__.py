"""osm-build: Klarna On-site Messaging fragments rendered into static sites at build time."""

__version__ = "0.1.0"

__all__ = ["__version__"]
