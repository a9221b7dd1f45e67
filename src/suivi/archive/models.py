"""Models of proofs of purchase."""
