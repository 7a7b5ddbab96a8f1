"""Redis keys and the Lua scripts of the Redis broker.

Per room, under the configured prefix (room names cannot contain ``:``):

* ``<prefix>r:<room>:id``: the room's last id (``INCR``);
* ``<prefix>r:<room>:s``: a stream holding the room's history, entry id ``0-<message id>``,
  one field ``m`` with the envelope's JSON text;
* ``<prefix>r:<room>:b``: the bytes that history holds (texts plus a fixed overhead each);

and for the whole server: ``<prefix>room-lru`` (the rooms holding history, scored by their
last publish, bounded by ``max_rooms``), ``<prefix>history-bytes`` (all rooms' history bytes),
``<prefix>clock`` (counts publishes: the LRU score), ``<prefix>epoch`` (a random token: when it
is gone, Redis lost its data) and the pub/sub channel ``<prefix>messages`` on which every
published envelope is fanned out to every worker.

A publish is one script, so it is atomic: the id, the history entry, the evictions and the
fan-out happen in the same order for everyone. The envelope is encoded once, by Python, without
its id, before the script runs (a message that cannot be encoded never takes an id); the script
splices ``{"id":<n>,`` in front of it (Lua prints ids below 10^14 exactly).

History is bounded like the memory broker's: per room by count and bytes (oldest first), and
for the server by bytes, taking the oldest messages of the least recently published room first.
A new room beyond ``max_rooms`` evicts the least recently published room's whole history. An
evicted room keeps its id counter (expiring after :data:`RETIRED_ID_TTL_S`), so ids never
restart and a cursor on it is answered ``missed``. The script names other rooms' keys from the
prefix, which a single Redis (not a Redis Cluster) allows.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EPOCH", "PUBLISH", "READ", "RETIRED_ID_TTL_S", "RedisKeys"]

#: How long Redis remembers the last id of a room whose history was evicted.
RETIRED_ID_TTL_S = 7 * 24 * 3600


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

    def history_bytes(self, room: str) -> str:
        """The bytes the room's history holds."""
        return f"{self.prefix}r:{room}:b"

    @property
    def rooms(self) -> str:
        """The rooms holding history, scored by their last publish (a sorted set)."""
        return f"{self.prefix}room-lru"

    @property
    def total_bytes(self) -> str:
        """The bytes every room's history holds together."""
        return f"{self.prefix}history-bytes"

    @property
    def clock(self) -> str:
        """The count of publishes, whose value scores a room's last publish."""
        return f"{self.prefix}clock"

    @property
    def epoch(self) -> str:
        """The token that changes when Redis loses its data."""
        return f"{self.prefix}epoch"

    @property
    def channel(self) -> str:
        """The pub/sub channel every envelope is published on."""
        return f"{self.prefix}messages"


#: KEYS: last id, stream, room bytes, rooms, total bytes, clock.
#: ARGV: envelope tail, history size, max rooms, room, channel, room max bytes, total max bytes,
#: key prefix, entry overhead bytes, retired id TTL (s).
#: Returns the new id.
PUBLISH = """
local history_size, max_rooms = tonumber(ARGV[2]), tonumber(ARGV[3])
local room, prefix = ARGV[4], ARGV[8]
local room_max, total_max = tonumber(ARGV[6]), tonumber(ARGV[7])
local overhead, ttl = tonumber(ARGV[9]), tonumber(ARGV[10])

local function pop_oldest(stream, bytes_key)
  local entry = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)[1]
  if not entry then
    return 0
  end
  redis.call('XDEL', stream, entry[1])
  local size = #entry[2][2] + overhead
  redis.call('DECRBY', bytes_key, size)
  return size
end

local function retire(name)
  local base = prefix .. 'r:' .. name
  local held = tonumber(redis.call('GET', base .. ':b') or '0')
  redis.call('DEL', base .. ':s', base .. ':b')
  redis.call('ZREM', KEYS[4], name)
  redis.call('EXPIRE', base .. ':id', ttl)
  return held
end

local id = redis.call('INCR', KEYS[1])
redis.call('PERSIST', KEYS[1])
local total = 0
if redis.call('ZADD', KEYS[4], redis.call('INCR', KEYS[6]), room) == 1
    and redis.call('ZCARD', KEYS[4]) > max_rooms then
  local oldest = redis.call('ZRANGE', KEYS[4], 0, 0)[1]
  total = redis.call('DECRBY', KEYS[5], retire(oldest))
end
local text = '{"id":' .. id .. ',' .. ARGV[1]
redis.call('XADD', KEYS[2], '0-' .. id, 'm', text)
local size = #text + overhead
local room_bytes = redis.call('INCRBY', KEYS[3], size)
total = redis.call('INCRBY', KEYS[5], size)
local length = redis.call('XLEN', KEYS[2])
while length > 1 and (length > history_size or room_bytes > room_max) do
  local freed = pop_oldest(KEYS[2], KEYS[3])
  room_bytes = room_bytes - freed
  total = redis.call('DECRBY', KEYS[5], freed)
  length = length - 1
end
while total > total_max do
  local lru = redis.call('ZRANGE', KEYS[4], 0, 1)
  local victim = lru[1]
  if victim == room then
    victim = lru[2]
  end
  if not victim then
    break
  end
  local base = prefix .. 'r:' .. victim
  local freed = pop_oldest(base .. ':s', base .. ':b')
  if freed == 0 or redis.call('XLEN', base .. ':s') == 0 then
    total = redis.call('DECRBY', KEYS[5], freed + retire(victim))
  else
    total = redis.call('DECRBY', KEYS[5], freed)
  end
end
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
