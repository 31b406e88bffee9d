"""The history layer (docs/architecture.md)."""
