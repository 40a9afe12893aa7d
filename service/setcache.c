/*
 * setcache.c - a flow set's listed flows, kept for a short while
 * (setcache.h).
 *
 * A hash table for lookups and a FIFO in insertion order for expiry:
 * every entry lives ttl_ms from its last put, so the oldest put is always
 * at the head and purging is a walk from there.
 */
#include "provflow/setcache.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

typedef struct entry {
    char *key;
    uint64_t hash;
    json_t *flows; /* owned copy */
    int64_t put_ms;
    struct entry *chain;      /* the bucket's next */
    TAILQ_ENTRY(entry) order; /* oldest put first */
} entry;

TAILQ_HEAD(entry_fifo, entry);

struct pf_setcache {
    int64_t ttl_ms;
    size_t max_entries, count;
    size_t mask; /* buckets - 1, a power of two less one */
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
        (now_ms - e->put_ms >= c->ttl_ms || c->count + room > c->max_entries))
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
    return e != NULL && e->put_ms >= since_ms ? e->flows : NULL;
}

int pf_setcache_put(pf_setcache *c, const char *key, const json_t *flows,
                    int64_t now_ms)
{
    uint64_t h = hash_of(key);
    entry **s = slot_of(c, key, h), *e;

    if (*s != NULL)
        remove_entry(c, *s);
    if (c->ttl_ms == 0 || !json_is_array(flows))
        return 0;
    purge(c, now_ms, 1);
    e = calloc(1, sizeof(*e));
    if (e == NULL)
        return -1;
    e->key = strdup(key);
    e->flows = json_deep_copy(flows);
    if (e->key == NULL || e->flows == NULL) {
        json_decref(e->flows);
        free(e->key);
        free(e);
        return -1;
    }
    e->hash = h;
    e->put_ms = now_ms;
    s = slot_of(c, key, h); /* the purge may have moved the chain */
    e->chain = *s;
    *s = e;
    TAILQ_INSERT_TAIL(&c->fifo, e, order);
    c->count++;
    return 0;
}

void pf_setcache_forget(pf_setcache *c, const char *key)
{
    entry *e = *slot_of(c, key, hash_of(key));

    if (e != NULL)
        remove_entry(c, e);
}

bool pf_setcache_has(const pf_setcache *c, const char *key)
{
    return *slot_of(c, key, hash_of(key)) != NULL;
}

void pf_setcache_add(pf_setcache *c, const char *key, const json_t *flow)
{
    entry *e = *slot_of(c, key, hash_of(key));

    if (e == NULL)
        return;
    if (json_array_append_new(e->flows, json_deep_copy(flow)) != 0)
        remove_entry(c, e);
}

size_t pf_setcache_size(const pf_setcache *c)
{
    return c->count;
}
