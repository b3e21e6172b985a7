"""LTI 1.3 protocol, the only importer of pylti1p3: login, launch, JWKS, registration, links."""
