"""pushbench's Locust users, ready to run: ``locust -f loadtests/locustfile.py --host URL``.

The users live in :mod:`pushbench.locust` (installed with pushbench); this file is the entry point
a checkout offers, the same as ``locust -f "$(python -c 'import pushbench.locust.locustfile as m;
print(m.__file__)')"`` from an installed wheel.
"""

from pushbench.locust.locustfile import (
    LongPollUser,
    RoomPublisherUser,
    ShortPollUser,
    SseUser,
    WebSocketEchoUser,
    WebSocketSubscriberUser,
)

__all__ = [
    "LongPollUser",
    "RoomPublisherUser",
    "ShortPollUser",
    "SseUser",
    "WebSocketEchoUser",
    "WebSocketSubscriberUser",
]
