"""api-service: a small HTTP JSON API configured by environment variables."""
