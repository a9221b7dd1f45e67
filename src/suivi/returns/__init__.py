"""Returns of delivered items within the shop's return window."""
