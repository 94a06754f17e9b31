"""Vendor REST clients (one module per vendor) and the pure tag-merge rule."""
