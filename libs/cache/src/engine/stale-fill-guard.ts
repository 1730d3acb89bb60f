/**
 * The Lua side of cachegate's fill fencing (docs/contract.md §5.3, §5.4). Each script runs
 * atomically in Redis; `RedisCacheStore` registers them once with defineCommand.
 *
 * THE RACE. A miss reads the source at t1 and writes the cache at t2. If the
 * data changed and its invalidation ran between t1 and t2, a naive fill writes
 * the old value back, and with no TTL it stays wrong for good. Worse, for views
 * with dependencies (a category listing holds products A, B, C) the view's key
 * is not yet in any dependency set while its first fill is in flight, so an
 * invalidation of product B cannot find it by looking the set up.
 *
 * THE FENCE. A global counter, the fence sequence, is incremented by every
 * invalidation. An invalidation leaves a marker `cache:fence:<name>` = its
 * sequence number on every key it drops and on every dependency it resolves
 * (markers are removed once older than FENCE_TTL_MS, see MEMORY). A fill reads the sequence *before* it
 * reads the source (atomically with taking the lease), and at write time the
 * FILL script refuses the write if the key's marker or any marker of the
 * view's dependencies is newer than that sequence: some invalidation touching
 * this view ran after the fill began, so what the fill read may be old. The
 * discarded value is still returned to its caller (it was the truth at t1).
 *
 * Why this is enough: an invalidation that ran before the fill read the
 * sequence has a marker <= that sequence, and the source read that follows sees
 * the change (the invalidation runs after the commit). An invalidation that ran
 * after it has a newer marker and the write is refused. Dependencies are known
 * only once the view is loaded, which is why markers are checked at write time
 * rather than leases revoked at start.
 *
 * THE DEADLINE, IN REDIS'S OWN TIME. Markers go (FENCE_TTL_MS), so a fill
 * must never be written after the markers that could refuse it are gone. The
 * client cannot promise that: a FILL command can sit in a partitioned TCP
 * connection for minutes and reach Redis after the client gave up on it. So
 * the lease script reads Redis's clock (TIME) and answers a deadline of
 * now + MAX_FILL_MS, and the FILL script refuses any write after it, by the
 * same clock. Why that holds: an invalidation that ran after the lease was
 * taken (at Redis time t0) set its marker at t >= t0, alive until
 * t + FENCE_TTL_MS > t0 + MAX_FILL_MS >= the last instant the fill may be
 * written. One clock (the Redis server's) decides both, so client clocks,
 * network delay and retries cannot break it.
 *
 * A WHOLE DOMAIN AT ONCE (DomainCache.invalidateAll: a TRUNCATE event, a
 * database identity reset). Its keys cannot be listed up front, so it cannot
 * leave a marker per key. Instead it increments the sequence and leaves ONE
 * marker for the domain, `cache:fence:<domain>:*` = that sequence (FENCE_ALL),
 * and only then drops the domain's entries, dependency sets and leases by SCAN
 * + UNLINK, and publishes `{flush: '<domain>:*'}` for every L1. FILL checks the
 * domain marker of the key's domain besides the key's own and its
 * dependencies'. Why that is enough, by when a fill writes:
 *  - before the marker was set: its entry exists before the SCAN starts, and
 *    a SCAN returns every name present from its start to its end: dropped;
 *  - after, having read the sequence before the marker (a fill that may have
 *    read the source before the change): the marker is newer, refused;
 *  - after, having read the sequence after the marker: its lease, and so its
 *    source read, came after the marker, which is set after the change
 *    committed (the event is applied after the commit): it read the new data,
 *    and keeping it (or having the SCAN drop it) is right either way.
 * The deadline argument above holds for the domain marker unchanged (it too
 * lives FENCE_TTL_MS from a time after the lease). It assumes a view's
 * dependencies are in its own domain (dependencyKey(domain, …)): dependency
 * sets are dropped with their domain. The SCAN drops names that match
 * `<domain>:*` only, never fence markers or the sequence (resetting the
 * sequence would make old fills look new).
 *
 * MEMORY AND EVICTION. The names this argument rests on (the sequence, the
 * markers, the dependency sets) carry no TTL, so the supported eviction
 * policies (noeviction, volatile-*: l2/eviction-policy.ts) can never remove
 * them early. Markers are instead listed with their Redis time in the sorted
 * set `cache:fence-index`, and every invalidation deletes a bounded batch of
 * markers older than FENCE_TTL_MS (re-marking a name moves its score, so a
 * marker still needed is never in that batch). Invalidations run with the
 * script flag allow-oom: they free memory, and a full Redis must not stop the
 * cache from forgetting what changed.
 *
 * THE LEASE. `cache:lease:<key>` (SET NX PX) elects one filler per key across
 * instances; others poll for the entry with bounded back-off. An invalidation
 * deletes the lease too, so a fresh fill can start at once instead of waiting
 * for one that is doomed to be discarded.
 *
 * Scripts build some names from ARGV (dependency members), so they assume a
 * single Redis, not Redis Cluster.
 */

/** How long invalidation markers live; a fill is written at most MAX_FILL_MS after its lease (Redis time). */
export const FENCE_TTL_MS = 60_000;
export const MAX_FILL_MS = 30_000;

/** Redis's clock in ms, inside a script. */
const NOW_MS = `local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end`;

/**
 * KEYS: lease, fence sequence, entry.  ARGV: token, lease ms, unless filled (1/0), max fill ms.
 * Takes the lease and returns {fence sequence at this instant, deadline in
 * Redis ms}, or nil when another filler holds the lease or, with "unless
 * filled", has already written the entry (it finished between our L2 miss and
 * this call: poll, do not read the source again). A caller that found an
 * unreadable entry passes 0 to replace it.
 */
export const ACQUIRE_LEASE_LUA = `${NOW_MS}
if ARGV[3] == '1' and redis.call('EXISTS', KEYS[3]) == 1 then return false end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return { redis.call('GET', KEYS[2]) or '0', tostring(now_ms() + tonumber(ARGV[4])) }
end
return false`;

/**
 * KEYS: entry, lease, fence(key), fence(key's domain: `<domain>:*`), fence(dep 1..n), dependency set 1..n.
 * ARGV: fence sequence at start, ttl ms (0 = none), lease token, n, value, logical key, deadline (Redis ms).
 * Writes the entry and records it in its dependency sets unless the deadline
 * has passed (-1) or a marker is newer than the fill's start (0); releases the
 * lease if still ours. 1 = written.
 */
export const FILL_LUA = `${NOW_MS}
local started = tonumber(ARGV[1])
local n = tonumber(ARGV[4])
local function release()
  if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
end
if now_ms() > tonumber(ARGV[7]) then
  release()
  return -1
end
for i = 3, 4 + n do
  local marker = redis.call('GET', KEYS[i])
  if marker and tonumber(marker) > started then
    release()
    return 0
  end
end
if tonumber(ARGV[2]) > 0 then
  redis.call('SET', KEYS[1], ARGV[5], 'PX', ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[5])
end
for i = 5 + n, 4 + 2 * n do
  redis.call('SADD', KEYS[i], ARGV[6])
end
release()
return 1`;

/**
 * `in_parts(list, f)`: calls f with the list's items as arguments, at most 1000
 * at a time (Lua's unpack() is limited to a few thousand values): one command
 * for many names instead of one per name, which is most of what a bulk
 * invalidation costs Redis.
 */
const IN_PARTS = `local function in_parts(list, f)
  for from = 1, #list, 1000 do f(unpack(list, from, math.min(#list, from + 999))) end
end`;

/** Lists markers with their Redis time, and deletes a bounded batch of those older than the fence TTL. */
const INDEX_MARKERS = `${IN_PARTS}
local function index_and_trim(index, now, ttl, marked)
  local scored = {}
  for _, name in ipairs(marked) do
    scored[#scored + 1] = now
    scored[#scored + 1] = name
  end
  in_parts(scored, function(...) redis.call('ZADD', index, ...) end)
  local old = redis.call('ZRANGEBYSCORE', index, '-inf', '(' .. (now - ttl), 'LIMIT', 0, math.min(2 * #marked + 64, 1000))
  if #old > 0 then
    redis.call('DEL', unpack(old))
    redis.call('ZREM', index, unpack(old))
  end
end`;

/**
 * KEYS: fence sequence, fence index.
 * ARGV: entry prefix, lease prefix, fence prefix, channel, fence ttl ms, k,
 *       key 1..k, dependency 1..m, origin.
 * Drops the keys and every member of the dependency sets (entry, lease),
 * leaves fence markers on all of them and on the dependencies, deletes the
 * sets, and publishes the dropped keys so every instance drops them from L1.
 * Returns the dropped keys. Runs when Redis is out of memory (allow-oom).
 * Each step is one command per up to 1000 names (in_parts): a CDC batch of
 * thousands of names is one script call of a few dozen commands.
 */
export const INVALIDATE_LUA = `#!lua flags=allow-oom
${NOW_MS}
${INDEX_MARKERS}
local seq = redis.call('INCR', KEYS[1])
local dropped = {}
local seen = {}
local function drop(key)
  if seen[key] then return end
  seen[key] = true
  dropped[#dropped + 1] = key
end
local k = tonumber(ARGV[6])
for i = 7, 6 + k do drop(ARGV[i]) end
local sets = {}
for i = 7 + k, #ARGV - 1 do sets[#sets + 1] = ARGV[1] .. ARGV[i] end
in_parts(sets, function(...)
  for _, member in ipairs(redis.call('SUNION', ...)) do drop(member) end
  redis.call('DEL', ...)
end)
local names = {}
local marked = {}
for _, key in ipairs(dropped) do
  names[#names + 1] = ARGV[1] .. key
  names[#names + 1] = ARGV[2] .. key
  marked[#marked + 1] = ARGV[3] .. key
end
for i = 7 + k, #ARGV - 1 do marked[#marked + 1] = ARGV[3] .. ARGV[i] end
in_parts(names, function(...) redis.call('DEL', ...) end)
local markers = {}
for _, name in ipairs(marked) do
  markers[#markers + 1] = name
  markers[#markers + 1] = seq
end
in_parts(markers, function(...) redis.call('MSET', ...) end)
index_and_trim(KEYS[2], now_ms(), tonumber(ARGV[5]), marked)
if #dropped > 0 then
  redis.call('PUBLISH', ARGV[4], cjson.encode({ keys = dropped, origin = ARGV[#ARGV] }))
end
return dropped`;

/**
 * KEYS: fence sequence, fence index, domain marker 1..n (`cache:fence:<domain>:*`).  ARGV: fence ttl ms.
 * The first step of dropping whole domains: fences off every fill of theirs
 * that began before it (see "A WHOLE DOMAIN AT ONCE"). Returns the sequence.
 */
export const FENCE_ALL_LUA = `#!lua flags=allow-oom
${NOW_MS}
${INDEX_MARKERS}
local seq = redis.call('INCR', KEYS[1])
local marked = {}
for i = 3, #KEYS do
  redis.call('SET', KEYS[i], seq)
  marked[#marked + 1] = KEYS[i]
end
index_and_trim(KEYS[2], now_ms(), tonumber(ARGV[1]), marked)
return seq`;
