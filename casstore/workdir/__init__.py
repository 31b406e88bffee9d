"""The workdir layer (docs/architecture.md)."""
