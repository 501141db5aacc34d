"""The staff back office: Django admin and staff pages."""
