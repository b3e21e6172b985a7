"""Privacy by design: access checks, consent, audit, retention (AVG/GDPR)."""
