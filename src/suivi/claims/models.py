"""Models of claims."""
