"""veritee disclosure package."""
