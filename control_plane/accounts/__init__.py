"""Accounts and tenancy: users, tenants, sessions and API keys; every request resolves to one
tenant through `dependencies.current_principal`."""
