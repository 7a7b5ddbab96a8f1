"""``pushbench compare``: push vs polling under every server flavor, and the framework tax."""
