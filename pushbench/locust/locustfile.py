"""pushbench's Locust users, ready to run.

Web UI: ``locust -f loadtests/locustfile.py --host http://127.0.0.1:8001`` from a checkout (that
file re-exports these users), or ``locust -f`` this module's file. Headless, with the reference
server started for you and the report written: ``make loadtest`` / ``make swarm``.
Pick users by class name (``locust -f ... WebSocketEchoUser``) or let their weights mix them.
"""

from pushbench.locust import plugin as _plugin  # registers pushbench's Locust event listeners
from pushbench.locust.users import RoomPublisherUser, WebSocketEchoUser, WebSocketSubscriberUser
from pushbench.locust.users_http import LongPollUser, ShortPollUser, SseUser

__all__ = [
    "LongPollUser",
    "RoomPublisherUser",
    "ShortPollUser",
    "SseUser",
    "WebSocketEchoUser",
    "WebSocketSubscriberUser",
]

del _plugin
