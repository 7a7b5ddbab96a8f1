"""The Locust entry points of a checkout (not installed): ``locustfile.py`` for ``locust -f``,
``__main__`` for ``python -m loadtests``. The users themselves are :mod:`pushbench.locust`.
"""
