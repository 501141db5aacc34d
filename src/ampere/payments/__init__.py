"""Payments: channels, real-time posting to the ledger exactly once, reversals, refunds,
transfers and reconciliation."""
