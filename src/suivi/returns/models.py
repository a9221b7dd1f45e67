"""Models of returns."""
