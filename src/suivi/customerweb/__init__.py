"""The customer's web: public tracking page, customer space, guide, installable app."""
