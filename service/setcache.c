/*
 * setcache.c - a flow set's listed flows, kept for a short while
 * (setcache.h).
 *
 * A hash table for lookups and a FIFO in insertion order for expiry:
 * every entry lives ttl_ms from its last put or change, and goes to the
 * tail on each, so purging is a walk from the head.
 *
 * An entry also remembers when the set last changed as far as this
 * process knows (a create it saw succeed, or one that may have landed):
 * a list sent before that is older than what the entry knows, however
 * late it is answered, and is not kept. Without it, a list sent before a
 * create and answered after it replaced the entry the create had added
 * to: the cache then said the new set or flow was not there, for up to
 * ttl_ms (a flow event refused "no flow set named", a duplicate check
 * passed). An entry that only remembers a change holds no flows.
 */
#include "provflow/setcache.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

typedef struct entry {
    char *key;
    uint64_t hash;
    json_t *flows;       /* owned copy; NULL: only a change is remembered */
    int64_t put_ms;      /* when the list of flows was sent */
    int64_t changed_ms;  /* the last change known (add, forget); or INT64_MIN */
    int64_t base_ms;     /* expiry: the later of the two */
    struct entry *chain; /* the bucket's next */
    TAILQ_ENTRY(entry) order; /* oldest first (by base_ms, roughly) */
} entry;

TAILQ_HEAD(entry_fifo, entry);

struct pf_setcache {
    int64_t ttl_ms;
    size_t max_entries, count;
    size_t mask;      /* buckets - 1, a power of two less one */
    int64_t floor_ms; /* no list sent at or before this is kept (no memory) */
    entry **buckets;
    struct entry_fifo fifo;
};

/* FNV-1a: short keys, no adversary who could pick them (set ids are
 * checked GUIDs). */
static uint64_t hash_of(const char *s)
{
    uint64_t h = 14695981039346656037ULL;

    while (*s != '\0') {
        h ^= (unsigned char)*s++;
        h *= 1099511628211ULL;
    }
    return h;
}

pf_setcache *pf_setcache_new(int64_t ttl_ms, size_t max_entries)
{
    pf_setcache *c = calloc(1, sizeof(*c));
    size_t buckets = 64;

    if (c == NULL)
        return NULL;
    while (buckets < max_entries / 2 && buckets < ((size_t)1 << 20))
        buckets *= 2;
    c->buckets = calloc(buckets, sizeof(*c->buckets));
    if (c->buckets == NULL) {
        free(c);
        return NULL;
    }
    c->ttl_ms = ttl_ms < 0 ? 0 : ttl_ms;
    c->max_entries = max_entries > 0 ? max_entries : 1;
    c->mask = buckets - 1;
    c->floor_ms = INT64_MIN;
    TAILQ_INIT(&c->fifo);
    return c;
}

static entry **slot_of(const pf_setcache *c, const char *key, uint64_t h)
{
    entry **e = &c->buckets[h & c->mask];

    while (*e != NULL && ((*e)->hash != h || strcmp((*e)->key, key) != 0))
        e = &(*e)->chain;
    return e;
}

static void remove_entry(pf_setcache *c, entry *e)
{
    entry **s = slot_of(c, e->key, e->hash);

    assert(*s == e);
    *s = e->chain;
    TAILQ_REMOVE(&c->fifo, e, order);
    c->count--;
    json_decref(e->flows);
    free(e->key);
    free(e);
}

/* Drops expired entries, and the oldest ones beyond max_entries - room. */
static void purge(pf_setcache *c, int64_t now_ms, size_t room)
{
    entry *e;

    while (
        (e = TAILQ_FIRST(&c->fifo)) != NULL &&
        (now_ms - e->base_ms >= c->ttl_ms || c->count + room > c->max_entries))
        remove_entry(c, e);
}

void pf_setcache_destroy(pf_setcache *c)
{
    entry *e;

    if (c == NULL)
        return;
    while ((e = TAILQ_FIRST(&c->fifo)) != NULL)
        remove_entry(c, e);
    free(c->buckets);
    free(c);
}

const json_t *pf_setcache_get(pf_setcache *c, const char *key, int64_t now_ms,
                              int64_t since_ms)
{
    entry *e;

    purge(c, now_ms, 0);
    e = *slot_of(c, key, hash_of(key));
    return e != NULL && e->flows != NULL && now_ms - e->put_ms < c->ttl_ms &&
                   e->put_ms >= since_ms
               ? e->flows
               : NULL;
}

/* e to the FIFO's tail, its expiry from now on its base. */
static void requeue(pf_setcache *c, entry *e)
{
    e->base_ms = e->put_ms > e->changed_ms ? e->put_ms : e->changed_ms;
    TAILQ_REMOVE(&c->fifo, e, order);
    TAILQ_INSERT_TAIL(&c->fifo, e, order);
}

/* A new entry for key (hash h), holding nothing; NULL when out of memory. */
static entry *entry_new(pf_setcache *c, const char *key, uint64_t h,
                        int64_t now_ms)
{
    entry *e, **s;

    purge(c, now_ms, 1);
    e = calloc(1, sizeof(*e));
    if (e == NULL || (e->key = strdup(key)) == NULL) {
        free(e);
        return NULL;
    }
    e->hash = h;
    e->put_ms = INT64_MIN;
    e->changed_ms = INT64_MIN;
    e->base_ms = now_ms;
    s = slot_of(c, key, h); /* the purge may have moved the chain */
    e->chain = *s;
    *s = e;
    TAILQ_INSERT_TAIL(&c->fifo, e, order);
    c->count++;
    return e;
}

/*
 * The set of key (hash h, entry e or NULL) changed at now_ms (a create
 * succeeded, or may have landed): no list sent at or before now_ms is
 * kept for it. When not even that can be remembered, none sent at or
 * before now_ms is kept, of any set.
 */
static void changed(pf_setcache *c, entry *e, const char *key, uint64_t h,
                    int64_t now_ms)
{
    if (c->ttl_ms == 0)
        return;
    if (e == NULL)
        e = entry_new(c, key, h, now_ms);
    if (e == NULL) {
        if (now_ms > c->floor_ms)
            c->floor_ms = now_ms;
        return;
    }
    if (now_ms > e->changed_ms)
        e->changed_ms = now_ms;
    requeue(c, e);
}

int pf_setcache_put(pf_setcache *c, const char *key, const json_t *flows,
                    int64_t now_ms)
{
    uint64_t h = hash_of(key);
    entry *e = *slot_of(c, key, h);
    json_t *copy;

    if (c->ttl_ms == 0 || !json_is_array(flows) || now_ms <= c->floor_ms)
        return 0;
    /*
     * Older than what the entry knows: a change since, or a later list. A
     * change in the millisecond the list was sent may have come after it.
     */
    if (e != NULL &&
        (e->changed_ms >= now_ms || (e->flows != NULL && e->put_ms > now_ms)))
        return 0;
    if ((copy = json_deep_copy(flows)) == NULL) {
        if (e != NULL) { /* the change it remembers stays */
            json_decref(e->flows);
            e->flows = NULL;
        }
        return -1;
    }
    if (e == NULL && (e = entry_new(c, key, h, now_ms)) == NULL) {
        json_decref(copy);
        return -1;
    }
    json_decref(e->flows);
    e->flows = copy;
    e->put_ms = now_ms;
    requeue(c, e);
    return 0;
}

void pf_setcache_forget(pf_setcache *c, const char *key, int64_t now_ms)
{
    uint64_t h = hash_of(key);
    entry *e = *slot_of(c, key, h);

    if (e != NULL) {
        json_decref(e->flows);
        e->flows = NULL;
    }
    changed(c, e, key, h, now_ms);
}

bool pf_setcache_has(const pf_setcache *c, const char *key)
{
    const entry *e = *slot_of(c, key, hash_of(key));

    return e != NULL && e->flows != NULL;
}

void pf_setcache_add(pf_setcache *c, const char *key, const json_t *flow,
                     int64_t now_ms)
{
    uint64_t h = hash_of(key);
    entry *e = *slot_of(c, key, h);

    if (e == NULL)
        return;
    if (e->flows != NULL &&
        json_array_append_new(e->flows, json_deep_copy(flow)) != 0) {
        json_decref(e->flows);
        e->flows = NULL;
    }
    changed(c, e, key, h, now_ms);
}

size_t pf_setcache_size(const pf_setcache *c)
{
    return c->count;
}
