"""Billing: the tier table (limits checked at the point of use) and, later, Stripe."""
