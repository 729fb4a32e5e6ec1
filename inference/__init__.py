"""veritee inference package."""
