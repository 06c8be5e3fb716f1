"""Local stand-ins of third-party SaaS APIs (Stripe, Clerk's JWKS) served over real HTTP."""
