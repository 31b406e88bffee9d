"""The model layer (docs/architecture.md)."""
