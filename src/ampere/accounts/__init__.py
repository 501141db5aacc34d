"""Customers, premises, service points, accounts, agreements, enrolments and the ledger."""
