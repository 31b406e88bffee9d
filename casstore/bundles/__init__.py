"""The bundles layer (docs/architecture.md)."""
