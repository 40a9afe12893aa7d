/*
 * setcache.h - what Graph last said a flow set holds, for a short while.
 *
 * The duplicate check (graph.h) lists a set's flows before a create that
 * may repeat an earlier one. One list answers for all four flow types of
 * a set, and the records of one set usually come together (one key, one
 * batch of records), so the answer is kept for ttl_ms and reused by the
 * checks that follow: a consumer group re-reading a retained topic lists
 * each set once per ttl window instead of once per record.
 *
 * Entries are keyed by an opaque string (the tenant and the set's URL).
 * A create that succeeded is added to its set's entry (pf_setcache_add()),
 * so an answer from the cache never says "absent" about a flow this
 * process created. Only a check that follows nothing uncertain of its own
 * may use the cache: after an uncertain create the job lists afresh.
 *
 * A list is kept with the time it was sent. One sent before the last
 * change the cache was told of (an add, a forget), or in its
 * millisecond, may be older than that change however late its answer
 * comes, and is not kept; nor is one sent before the list the cache
 * holds.
 *
 * At most max_entries sets are kept; the oldest goes first. Not
 * thread-safe: the loop thread owns a cache. No clock of its own: callers
 * pass now_ms (monotonic).
 */
#ifndef PROVFLOW_SETCACHE_H
#define PROVFLOW_SETCACHE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PF_SETCACHE_TTL_MS_DEFAULT  5000
#define PF_SETCACHE_ENTRIES_DEFAULT 65536

typedef struct pf_setcache pf_setcache;

/* NULL when out of memory. ttl_ms >= 0 (0: nothing is ever reused). */
pf_setcache *pf_setcache_new(int64_t ttl_ms, size_t max_entries);

/* NULL is ignored. */
void pf_setcache_destroy(pf_setcache *c);

/*
 * The set's flows (a JSON array, borrowed: valid until the next call that
 * changes the cache), or NULL when none is known that is younger than
 * ttl_ms and was listed at or after since_ms (a caller that knows of a
 * create that may have landed until then passes that time).
 */
const json_t *pf_setcache_get(pf_setcache *c, const char *key, int64_t now_ms,
                              int64_t since_ms);

/*
 * Remembers flows (a JSON array, copied) as the set's contents when the
 * list was sent, now_ms, replacing what was known; unless the set changed
 * at or after now_ms (pf_setcache_add(), pf_setcache_forget()) or the entry
 * holds a list sent later: then nothing changes. Returns 0, or -1 when
 * out of memory (the cache then knows no flows of the set: always safe).
 */
int pf_setcache_put(pf_setcache *c, const char *key, const json_t *flows,
                    int64_t now_ms);

/*
 * A flow created at now_ms, for a set with an entry: added (an object,
 * copied) to its list if it holds one, and either way no list sent at or
 * before now_ms is kept for the set. No entry: nothing (a caller that may have
 * a list of the set in flight calls pf_setcache_forget() instead). On failure
 * to add, the entry's list is dropped, so the cache never answers "absent" for
 * it.
 */
void pf_setcache_add(pf_setcache *c, const char *key, const json_t *flow,
                     int64_t now_ms);

/*
 * Whether the set has an entry with a list that pf_setcache_add() would
 * add to (live, or expired and not yet purged): a caller may skip
 * building a flow that would not be kept.
 */
bool pf_setcache_has(const pf_setcache *c, const char *key);

/*
 * Forgets the set's flows (a create in it may have landed by now_ms): no
 * list sent at or before now_ms is kept for it.
 */
void pf_setcache_forget(pf_setcache *c, const char *key, int64_t now_ms);

/* Sets with an entry (a list, or a change remembered; not yet purged). */
size_t pf_setcache_size(const pf_setcache *c);

#endif /* PROVFLOW_SETCACHE_H */
