"""The customer portal: bills, usage, payments and requests (issue 16 builds its pages)."""
