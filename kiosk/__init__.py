"""kiosk layer (see docs/architecture.md)."""
