"""The pure rating engine: no Django, no database; Decimal reference and vectorised batch."""
