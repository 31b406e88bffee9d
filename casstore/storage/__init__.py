"""The storage layer (docs/architecture.md)."""
