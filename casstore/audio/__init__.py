"""The audio layer (docs/architecture.md)."""
