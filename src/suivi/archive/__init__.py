"""Proofs of purchase: archived documents per order, hashed and chained."""
