"""Pricing: the tariff catalogue and the pure rating engine (it knows nothing of customers)."""
