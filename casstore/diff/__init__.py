"""The diff layer (docs/architecture.md)."""
