"""Redis keys and the Lua scripts of the Redis broker.

Per room, under the configured prefix (room names cannot contain ``:``):

* ``<prefix>r:<room>:id``: the room's last id (``INCR``);
* ``<prefix>r:<room>:s``: a stream holding the last ``history_size`` envelopes, entry id
  ``0-<message id>``, one field ``m`` with the envelope's JSON text;

and for the whole server: ``<prefix>rooms`` (the set of rooms, bounded by ``max_rooms``),
``<prefix>epoch`` (a random token: when it is gone, Redis lost its data) and the pub/sub channel
``<prefix>messages`` on which every published envelope is fanned out to every worker.

A publish is one script, so it is atomic: the id, the history entry and the fan-out happen in
the same order for everyone. The envelope is encoded once, by Python, without its id; the
script splices ``{"id":<n>,`` in front of it (Lua prints ids below 10^14 exactly).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EPOCH", "PUBLISH", "READ", "RedisKeys"]


@dataclass(frozen=True, slots=True)
class RedisKeys:
    """Key and channel names under one prefix."""

    prefix: str

    def last_id(self, room: str) -> str:
        """The room's id counter."""
        return f"{self.prefix}r:{room}:id"

    def stream(self, room: str) -> str:
        """The room's history stream."""
        return f"{self.prefix}r:{room}:s"

    @property
    def rooms(self) -> str:
        """The set of every room that was ever published to."""
        return f"{self.prefix}rooms"

    @property
    def epoch(self) -> str:
        """The token that changes when Redis loses its data."""
        return f"{self.prefix}epoch"

    @property
    def channel(self) -> str:
        """The pub/sub channel every envelope is published on."""
        return f"{self.prefix}messages"


#: KEYS: last id, stream, rooms. ARGV: envelope tail, history size, max rooms, room, channel.
#: Returns the new id, or 0 when the room would be one more than ``max rooms``.
PUBLISH = """
local id = redis.call('INCR', KEYS[1])
if id == 1 and redis.call('SADD', KEYS[3], ARGV[4]) == 1
    and redis.call('SCARD', KEYS[3]) > tonumber(ARGV[3]) then
  redis.call('SREM', KEYS[3], ARGV[4])
  redis.call('DEL', KEYS[1])
  return 0
end
local text = '{"id":' .. id .. ',' .. ARGV[1]
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[2], '0-' .. id, 'm', text)
redis.call('PUBLISH', ARGV[5], text)
return id
"""

#: KEYS: last id, stream. ARGV: after, count (0: read only the last id).
#: Returns {last id, envelope text, ...} with the texts of ids after ``after``, in id order.
READ = """
local out = {tonumber(redis.call('GET', KEYS[1]) or '0')}
if tonumber(ARGV[2]) > 0 then
  local entries = redis.call('XRANGE', KEYS[2], '(0-' .. ARGV[1], '+', 'COUNT', ARGV[2])
  for i = 1, #entries do
    out[i + 1] = entries[i][2][2]
  end
end
return out
"""

#: KEYS: epoch. ARGV: a new random token. Returns the epoch, setting it when there is none.
EPOCH = """
local epoch = redis.call('GET', KEYS[1])
if epoch then
  return epoch
end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
"""
