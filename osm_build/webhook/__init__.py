"""Receive signed CMS and commerce webhooks and rebuild the affected products (``osm-build serve``)."""
