"""Ampere: an open customer information and billing system for electricity utilities."""

__version__ = "0.1.0"
