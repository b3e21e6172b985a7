"""Outcomes: the teacher's POP contribution, results for the platform (AGS), the roster (NRPS)."""
