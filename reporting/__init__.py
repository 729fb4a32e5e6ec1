"""veritee reporting package."""
