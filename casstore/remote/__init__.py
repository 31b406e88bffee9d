"""The remote layer (docs/architecture.md)."""
