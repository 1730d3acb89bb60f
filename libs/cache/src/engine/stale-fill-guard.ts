/**
 * The Lua side of cachegate's fill fencing (docs/contract.md §5.3, §5.4, §5.10). Every
 * script here touches the names of ONE hash slot only, all given in KEYS, so
 * the same protocol runs on a single Redis and on Redis Cluster. A fill and an
 * invalidation are each a short sequence of such single-slot steps; the
 * argument below shows that every interleaving of those steps is safe.
 * `RedisCacheStore` runs the steps (l2/redis-cache-store.ts).
 *
 * THE RACE. A miss reads the source at t1 and writes the cache at t2. If the
 * data changed and its invalidation ran between t1 and t2, a naive fill writes
 * the old value back, and with no TTL it stays wrong for good. Worse, for views
 * with dependencies (a category listing holds products A, B, C) the view's key
 * is not yet in any dependency set while its first fill is in flight, and the
 * dependencies are only known once the view has been read.
 *
 * WHERE NAMES LIVE. Three kinds of slot:
 *  - a key's slot: its entry `<p><key>` and, hash-tagged with the entry's
 *    name, its lease `<p>cache:lease:{<p><key>}` and its fill ticket
 *    `<p>cache:fill:{<p><key>}`;
 *  - a dependency's slot: the dependency set `<p><domain>:deps:<type>:<id>`;
 *  - the domain's slot (tag `{<p><domain>}`): its fence sequence, its
 *    dependency fences (two hashes, rotated), its domain fence and the list
 *    of checked fills.
 *
 * A FILL, step by step (K: key slot, D: domain slot, S: dependency slots):
 *  F1 (K) LEASE: take the lease (elects one filler across instances) and set
 *     the fill ticket = our token, PX MAX_FILL_MS; answer a deadline in K's
 *     Redis time (TIME + MAX_FILL_MS).
 *  F2 (D) SEQUENCE: read the domain's fence sequence s0 and D's time.
 *     F1 and F2 both happen before the source read (sent together).
 *  -- read the source; the view names its dependencies --
 *  F3 (S) REGISTER: SADD the key to each dependency set.
 *  F4 (D) CHECK: refuse if past D's deadline, or if the domain fence or the
 *     dependency fence of any of the view's dependencies is > s0; else add
 *     (key, token) to the domain's checked fills (scored by D's deadline).
 *  F5 (K) WRITE: write the entry only if the ticket still holds our token
 *     and K's deadline has not passed; delete the ticket, release the lease.
 *
 * AN INVALIDATION of keys and dependencies of a domain:
 *  I1 (D) FENCE: INCR the sequence to s, set the dependency fence of every
 *     dependency to s (skipped when there are no dependencies).
 *  I2 (S) RESOLVE: read and delete each dependency set (and a record an
 *     interrupted I2 left for it), and write every member found into one
 *     resolved record, named after the first set that had any; the members
 *     are views to drop too.
 *  I3 (K) DROP: for every key and resolved member, delete entry, lease and
 *     fill ticket. Then PUBLISH the dropped keys, so every L1 drops them.
 *  I4 (S) FORGET: delete the resolved records I2 answered from, each only if
 *     no I2 added to it since (same size: a record only grows). Until then a
 *     process killed after I2 leaves the members in the record, where the
 *     redelivered invalidation's I2 finds them again (a deleted set alone
 *     would have lost them: §9.3, no lost invalidation). The redelivery is
 *     of every event of the interrupted batch, the one that named the
 *     record's set among them.
 *
 * WHY NO STALE FILL IS WRITTEN. Take a fill F of key k and a change committed
 * at tc whose invalidation I must drop k (directly, or through dependency d).
 * I runs after tc. If F's ticket (F1) was set after I's DROP of k, or F read
 * s0 (F2) after I's FENCE, then F's source read followed tc: F read the new
 * data. Otherwise:
 *  - k named directly: I's DROP of k comes after F1, in k's slot. If it comes
 *    before F5, it deletes F's ticket and F5 refuses; if after, it deletes
 *    the entry F5 wrote.
 *  - k through d, with I's FENCE after F2 (s > s0). In d's slot, F3 and I2 are
 *    ordered. If F3 came first, I2 finds k and I3 drops it as above. If I2
 *    came first, then I1 (before I2) came before F3, which is before F4: F4
 *    sees d's fence s > s0 and refuses.
 * Domain slot, dependency slot and key slot are each a total order, and each
 * step is one atomic script: no cross-slot atomicity is needed anywhere.
 *
 * A WHOLE DOMAIN AT ONCE (DomainCache.invalidateAll: a TRUNCATE event, a
 * database identity reset). Its keys cannot be listed up front.
 *  A1 (D) FENCE ALL: INCR the sequence to s, set the domain fence to s, and
 *     take the checked fills whose deadline has not passed.
 *  A2 (K) for each of those, delete its fill ticket.
 *  A3 SCAN + UNLINK the domain's entries, dependency sets, leases and tickets
 *     (on every master), then publish `{flush: '<domain>:*'}` for every L1.
 * A fill F whose F2 came after A1 read the source after the change. One whose
 * F4 came after A1 is refused by the domain fence. One whose F4 came before A1
 * is among the checked fills A1 takes: if its F5 comes after A2 it is refused
 * (no ticket); if before, its entry exists before A3's SCAN starts, and a SCAN
 * returns every name present from its start to its end: dropped. It assumes a
 * view's dependencies are in its own domain (dependencyKey(domain, …)).
 *
 * DEADLINES, IN REDIS'S OWN TIME. A step can sit in a partitioned TCP
 * connection for minutes and reach Redis after the client gave up on it. So
 * F5 refuses after K's deadline and F4 after D's, each by the clock of the
 * node that checks it (F1 and F2 read them). Dependency fences are deleted
 * only once older than FENCE_TTL_MS > MAX_FILL_MS (ROTATION), so every fence
 * set after a fill's F2 still exists at its F4. After a failover the clock is
 * the promoted replica's: the 30 s between the two bounds absorb clock skew
 * between Redis hosts.
 *
 * ROTATION. Dependency fences are fields of two hashes, `dep-fences:0|1`;
 * `dep-fence-epoch` holds the epoch (Redis ms / FENCE_TTL_MS) of the newest
 * write. I1 writes into the hash of the current epoch's parity, first
 * deleting that hash when it still holds an older epoch (two or more epochs
 * back: every field in it is over FENCE_TTL_MS old). One HSET per invalidation
 * and one UNLINK per rotation, instead of a key (and an index entry) per
 * dependency: a bulk change of 100,000 rows costs one hash, not 100,000 names.
 *
 * MEMORY AND EVICTION. The names this argument needs to EXIST carry no TTL:
 * the sequence, the fences, the dependency sets. So the supported eviction
 * policies (noeviction, volatile-*: l2/eviction-policy.ts) never remove them.
 * The names whose ABSENCE means refusal carry a TTL and may be evicted: a lost
 * ticket refuses its fill, a lost lease only lets another filler in. The
 * invalidation scripts run with allow-oom: they free memory, and a full Redis
 * must not stop the cache from forgetting what changed.
 */

/** How long dependency fences live at least; a fill's checks happen at most MAX_FILL_MS after its start (Redis time). */
export const FENCE_TTL_MS = 60_000;
export const MAX_FILL_MS = 30_000;

/** Redis's clock in ms, inside a script. */
const NOW_MS = `local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end`;

/**
 * `in_parts(list, f)`: calls f with the list's items as arguments, at most 1000
 * at a time (Lua's unpack() is limited to a few thousand values): one command
 * for many names instead of one per name, which is most of what a bulk
 * invalidation costs Redis.
 */
const IN_PARTS = `local function in_parts(list, f)
  for from = 1, #list, 1000 do f(unpack(list, from, math.min(#list, from + 999))) end
end`;

/**
 * F1, key slot. KEYS: lease, ticket, entry. ARGV: token, lease ms, unless filled (1/0), max fill ms.
 * Takes the lease, sets the ticket and answers the deadline (Redis ms), or nil
 * when another filler holds the lease or, with "unless filled", has already
 * written the entry (it finished between our L2 miss and this call: poll, do
 * not read the source again). A caller that found an unreadable entry passes 0
 * to replace it.
 */
export const LEASE_LUA = `${NOW_MS}
if ARGV[3] == '1' and redis.call('EXISTS', KEYS[3]) == 1 then return false end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[4])
  return now_ms() + tonumber(ARGV[4])
end
return false`;

/** F2, domain slot. KEYS: fence sequence. ARGV: max fill ms. Answers {sequence, deadline in this node's ms}. */
export const SEQUENCE_LUA = `${NOW_MS}
return { tonumber(redis.call('GET', KEYS[1]) or '0'), now_ms() + tonumber(ARGV[1]) }`;

/**
 * F4, domain slot. KEYS: domain fence, dependency fences 0, dependency fences 1, checked fills.
 * ARGV: s0, deadline (this node's ms), checked member (`<key>\\n<token>`), dependency 1..n.
 * -1 past the deadline, 0 fenced, 1 checked (and listed, for a whole-domain drop).
 */
export const CHECK_LUA = `${NOW_MS}
local now = now_ms()
if now > tonumber(ARGV[2]) then return -1 end
local started = tonumber(ARGV[1])
local fence = redis.call('GET', KEYS[1])
if fence and tonumber(fence) > started then return 0 end
for from = 4, #ARGV, 1000 do
  for h = 2, 3 do
    for _, seq in ipairs(redis.call('HMGET', KEYS[h], unpack(ARGV, from, math.min(#ARGV, from + 999)))) do
      if seq and tonumber(seq) > started then return 0 end
    end
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. now)
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[3])
return 1`;

/**
 * F5, key slot. KEYS: entry, lease, ticket. ARGV: token, ttl ms (0 = none), value, deadline (this node's ms).
 * -1 past the deadline, 0 fenced (the ticket is gone or another filler's), 1 written.
 * Releases the lease if still ours either way.
 */
export const WRITE_LUA = `${NOW_MS}
local outcome = 1
if now_ms() > tonumber(ARGV[4]) then
  outcome = -1
elseif redis.call('GET', KEYS[3]) ~= ARGV[1] then
  outcome = 0
else
  if tonumber(ARGV[2]) > 0 then
    redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2])
  else
    redis.call('SET', KEYS[1], ARGV[3])
  end
  redis.call('DEL', KEYS[3])
end
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return outcome`;

/**
 * I1, domain slot. KEYS: fence sequence, dependency fence epoch, dependency fences 0, dependency fences 1.
 * ARGV: fence ttl ms, dependency 1..n. Increments the sequence and sets every
 * dependency's fence to it (ROTATION first). Returns the sequence.
 */
export const FENCE_DEPENDENCIES_LUA = `#!lua flags=allow-oom
${NOW_MS}
${IN_PARTS}
local seq = redis.call('INCR', KEYS[1])
local epoch = math.floor(now_ms() / tonumber(ARGV[1]))
local newest = tonumber(redis.call('GET', KEYS[2]) or '-1')
if newest ~= epoch then
  -- The hash of this epoch's parity last held epoch - 2 or older, unless it is epoch itself (newest > epoch:
  -- a clock that went back after a failover), whose fields are then kept.
  local hash = KEYS[3 + epoch % 2]
  if newest < epoch then
    redis.call('UNLINK', hash)
    if newest < epoch - 1 then redis.call('UNLINK', KEYS[3 + (epoch + 1) % 2]) end
    redis.call('SET', KEYS[2], epoch)
  end
end
local fields = {}
for i = 2, #ARGV do
  fields[#fields + 1] = ARGV[i]
  fields[#fields + 1] = seq
end
local hash = KEYS[3 + epoch % 2]
in_parts(fields, function(...) redis.call('HSET', hash, ...) end)
return seq`;

/**
 * I2, dependency slots. KEYS: dependency sets. ARGV: the prefix of bookkeeping names (RedisNames.bookkeepingPrefix).
 * Reads and deletes each set, with any resolved record (`<prefix>resolved:{<set>}`, the set's slot) an earlier,
 * interrupted I2 left for it; then writes every member found into ONE record, named after the call's first set
 * that had any. Answers {the members, once each; the sets whose record exists now (that one, and the earlier
 * ones read); each of those records' size}. One record per call rather than one per set: a set costs EXISTS, SUNION and DEL, and I4 deletes
 * a record or two, where a record per set cost two more calls per set here and one per set in I4 (a bulk change
 * resolves 100,000 sets). A redelivery still finds every member: it applies again every event of the
 * interrupted batch, among them the one that named the record's set.
 */
export const RESOLVE_LUA = `#!lua flags=allow-oom
${IN_PARTS}
local members, seen, recorded, listed = {}, {}, {}, {}
local own
for _, set in ipairs(KEYS) do
  local record = ARGV[1] .. 'resolved:{' .. set .. '}'
  -- One call for the common case, a set no view registered in and no record: nothing to do.
  local present = redis.call('EXISTS', set, record)
  if present > 0 then
    local found = redis.call('SUNION', set, record)
    -- Present and not deleted here: the record exists, and I4 deletes it.
    if present > redis.call('DEL', set) then
      recorded[#recorded + 1] = set
      listed[set] = true
    end
    if #found > 0 and not own then own = set end
    for _, member in ipairs(found) do
      if not seen[member] then
        seen[member] = true
        members[#members + 1] = member
      end
    end
  end
end
if own then
  local record = ARGV[1] .. 'resolved:{' .. own .. '}'
  in_parts(members, function(...) redis.call('SADD', record, ...) end)
  if not listed[own] then recorded[#recorded + 1] = own end
end
-- Each record's size as this call leaves it: I4 deletes it only if still that size (see FORGET_LUA).
local sizes = {}
for i, set in ipairs(recorded) do sizes[i] = redis.call('SCARD', ARGV[1] .. 'resolved:{' .. set .. '}') end
return {members, recorded, sizes}`;

/**
 * I4, dependency slots. KEYS: dependency sets whose views I3 dropped. ARGV: bookkeeping prefix, then each
 * record's size as I2 answered it. Deletes each record that still has that size. A record only grows between
 * deletions (I2 adds to it), so the same size is the same members, every one of them dropped by this
 * invalidation's I3. A larger one was added to by a concurrent I2 (another batch resolving the same set),
 * whose views may not be dropped yet: it is left to that invalidation's own I4, or to its redelivery.
 */
export const FORGET_LUA = `#!lua flags=allow-oom
for i, set in ipairs(KEYS) do
  local record = ARGV[1] .. 'resolved:{' .. set .. '}'
  if redis.call('SCARD', record) == tonumber(ARGV[i + 1]) then redis.call('DEL', record) end
end
return 0`;

/**
 * I3, key slots. KEYS: entries. ARGV: the prefix of bookkeeping names (RedisNames.bookkeepingPrefix).
 * Deletes each entry with its lease and fill ticket, which are named after it (`<prefix>lease:{<entry>}`,
 * `<prefix>fill:{<entry>}`: the entry is their hash tag, so they share its slot). Passing the entries alone
 * sends a third of the names an invalidation of many keys would otherwise write to Redis.
 */
export const DROP_LUA = `#!lua flags=allow-oom
${IN_PARTS}
local names = {}
for _, entry in ipairs(KEYS) do
  names[#names + 1] = entry
  names[#names + 1] = ARGV[1] .. 'lease:{' .. entry .. '}'
  names[#names + 1] = ARGV[1] .. 'fill:{' .. entry .. '}'
end
in_parts(names, function(...) redis.call('DEL', ...) end)
return 0`;

/**
 * A1, domain slot. KEYS: fence sequence, domain fence, checked fills.
 * Increments the sequence, sets the domain fence to it, and answers the checked
 * fills that may still write (`<key>\\n<token>`), clearing the list.
 */
export const FENCE_DOMAIN_LUA = `#!lua flags=allow-oom
${NOW_MS}
local seq = redis.call('INCR', KEYS[1])
redis.call('SET', KEYS[2], seq)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. now_ms())
local checked = redis.call('ZRANGE', KEYS[3], 0, -1)
redis.call('DEL', KEYS[3])
return checked`;
