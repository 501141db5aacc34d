"""The `ampere` command: Django's management commands plus Ampere's own."""
