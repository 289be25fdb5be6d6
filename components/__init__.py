"""Reusable ComponentResources for the delivery pipeline, one module per concern, plus the typed settings."""
