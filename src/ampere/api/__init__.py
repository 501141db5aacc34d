"""The HTTP API under /api/v1/ (partners, portal clients, staff tools)."""
