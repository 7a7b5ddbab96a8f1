"""``pushbench plan``: a capacity plan fitted from measured runs (model, fit, figures, reports)."""
