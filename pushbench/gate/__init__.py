"""The gate: pass/fail checks of a run against SLOs and a baseline (pure), and their config file."""
