"""``pushbench ramp``: step the load on one server per transport until a step breaks the SLO."""
