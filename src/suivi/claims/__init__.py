"""Customer claims: incidents with photos, a ticket thread with the merchant, resolutions."""
