"""locker layer (see docs/architecture.md)."""
