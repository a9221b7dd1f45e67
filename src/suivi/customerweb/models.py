"""Models of customer web."""
