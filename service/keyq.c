/* keyq.c - per-key ordering with bounded concurrency (keyq.h). */
#include "provflow/keyq.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

/*
 * Invariant: a key's items are linked oldest first in key->items; the first
 * is READY (and then in the queue's ready list) or RUNNING, every other item
 * of the key is WAITING. So at most one item per key runs, and the next one
 * cannot become ready before the first leaves.
 */
enum {
    ITEM_IDLE = 0, /* in no queue */
    ITEM_WAITING,  /* behind its key's head */
    ITEM_READY,    /* its key's head, in the ready list */
    ITEM_RUNNING,  /* its key's head, popped */
};

TAILQ_HEAD(item_list, pf_keyq_item);

struct pf_keyq_key {
    struct item_list items;       /* the key's items, oldest first */
    LIST_ENTRY(pf_keyq_key) link; /* all keys, for pf_keyq_remove_if() */
    uint64_t hash;
    size_t len;
    unsigned char bytes[]; /* the key, len bytes, not NUL-terminated */
};

/*
 * Keys live in an open-addressing table (linear probing, power-of-two
 * capacity, deletion by backward shift so that no tombstones accumulate).
 * The load stays at or below 1/2; below 1/8 the table halves, down to
 * TABLE_MIN, so its size follows the number of live keys.
 */
#define TABLE_MIN 16

struct pf_keyq {
    size_t max_running;
    size_t running, queued, ready;
    struct item_list ready_list;   /* oldest first */
    LIST_HEAD(, pf_keyq_key) keys; /* every entry */
    pf_keyq_key **slots;
    size_t cap; /* slots, a power of two */
    size_t nkeys;
};

/*
 * FNV-1a, then a 64-bit finaliser (MurmurHash3's fmix64) so that the low
 * bits used as the slot index depend on every input byte. Not keyed: keys
 * come from producers of the input topic, but the table only holds keys of
 * live items, which the caller's backpressure bounds, so a flood of
 * colliding keys costs at most O(live items) per lookup.
 */
static uint64_t key_hash(const unsigned char *p, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    size_t i;

    for (i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

/*
 * The slot holding the key, or the empty slot where it would go; *found
 * tells which.
 */
static size_t table_find(const pf_keyq *q, const void *key, size_t len,
                         uint64_t h, bool *found)
{
    size_t mask = q->cap - 1;
    size_t i = (size_t)h & mask;
    const pf_keyq_key *k;

    for (;;) {
        k = q->slots[i];
        if (k == NULL)
            break;
        if (k->hash == h && k->len == len &&
            (len == 0 || memcmp(k->bytes, key, len) == 0)) {
            *found = true;
            return i;
        }
        i = (i + 1) & mask;
    }
    *found = false;
    return i;
}

/* Moves every entry into a table of cap slots. -1 if memory runs out. */
static int table_resize(pf_keyq *q, size_t cap)
{
    pf_keyq_key **slots = calloc(cap, sizeof(*slots));
    pf_keyq_key *k;
    size_t i;

    if (slots == NULL)
        return -1;
    free(q->slots);
    q->slots = slots;
    q->cap = cap;
    LIST_FOREACH(k, &q->keys, link)
    {
        i = (size_t)k->hash & (cap - 1);
        while (slots[i] != NULL)
            i = (i + 1) & (cap - 1);
        slots[i] = k;
    }
    return 0;
}

/* Takes k out of the table and the key list, and frees it. */
static void key_free(pf_keyq *q, pf_keyq_key *k)
{
    size_t mask = q->cap - 1;
    size_t i, j, home;
    bool found;

    i = table_find(q, k->bytes, k->len, k->hash, &found);
    /*
     * Backward shift: pull later entries of the probe run into the hole
     * unless their home slot lies cyclically in (i, j], where they must
     * stay to remain reachable.
     */
    for (j = (i + 1) & mask; q->slots[j] != NULL; j = (j + 1) & mask) {
        home = (size_t)q->slots[j]->hash & mask;
        if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
            continue;
        q->slots[i] = q->slots[j];
        i = j;
    }
    q->slots[i] = NULL;
    q->nkeys--;

    LIST_REMOVE(k, link);
    free(k);

    /* Failing to shrink only keeps the larger table. */
    if (q->cap > TABLE_MIN && q->nkeys * 8 < q->cap)
        (void)table_resize(q, q->cap / 2);
}

pf_keyq *pf_keyq_new(size_t max_running)
{
    pf_keyq *q;

    if (max_running == 0)
        return NULL;
    q = calloc(1, sizeof(*q));
    if (q == NULL)
        return NULL;
    q->max_running = max_running;
    q->slots = calloc(TABLE_MIN, sizeof(*q->slots));
    if (q->slots == NULL) {
        free(q);
        return NULL;
    }
    q->cap = TABLE_MIN;
    TAILQ_INIT(&q->ready_list);
    LIST_INIT(&q->keys);
    return q;
}

void pf_keyq_destroy(pf_keyq *q)
{
    pf_keyq_key *k;

    if (q == NULL)
        return;
    while ((k = LIST_FIRST(&q->keys)) != NULL) {
        LIST_REMOVE(k, link);
        free(k);
    }
    free(q->slots);
    free(q);
}

void pf_keyq_item_init(pf_keyq_item *it)
{
    memset(it, 0, sizeof(*it));
}

static void ready_append(pf_keyq *q, pf_keyq_item *it)
{
    it->state = ITEM_READY;
    TAILQ_INSERT_TAIL(&q->ready_list, it, ready_link);
    q->ready++;
}

static void ready_unlink(pf_keyq *q, pf_keyq_item *it)
{
    assert(q->ready > 0);
    TAILQ_REMOVE(&q->ready_list, it, ready_link);
    q->ready--;
}

int pf_keyq_push(pf_keyq *q, const void *key, size_t key_len, pf_keyq_item *it)
{
    pf_keyq_key *k;
    uint64_t h;
    size_t slot;
    bool found;

    /* Programmer errors: asserted, and refused where asserts are off. */
    assert(it->key == NULL && it->state == ITEM_IDLE); /* in no queue */
    assert(key != NULL || key_len == 0);
    if (it->key != NULL || it->state != ITEM_IDLE)
        return -1;
    if (key == NULL && key_len > 0)
        return -1;
    h = key_hash(key, key_len);
    slot = table_find(q, key, key_len, h, &found);
    if (found) {
        k = q->slots[slot];
    } else {
        if (key_len > SIZE_MAX - sizeof(*k))
            return -1;
        /* Grow first, so that a failure leaves nothing half-inserted. */
        if ((q->nkeys + 1) * 2 > q->cap) {
            if (table_resize(q, q->cap * 2) != 0)
                return -1;
            slot = table_find(q, key, key_len, h, &found);
        }
        k = malloc(sizeof(*k) + key_len);
        if (k == NULL)
            return -1;
        TAILQ_INIT(&k->items);
        k->hash = h;
        k->len = key_len;
        if (key_len > 0)
            memcpy(k->bytes, key, key_len);
        LIST_INSERT_HEAD(&q->keys, k, link);
        q->slots[slot] = k;
        q->nkeys++;
    }

    it->key = k;
    TAILQ_INSERT_TAIL(&k->items, it, key_link);
    q->queued++;
    if (TAILQ_FIRST(&k->items) == it)
        ready_append(q, it);
    else
        it->state = ITEM_WAITING;
    return 0;
}

pf_keyq_item *pf_keyq_pop_ready(pf_keyq *q)
{
    pf_keyq_item *it = TAILQ_FIRST(&q->ready_list);

    if (it == NULL || q->running >= q->max_running)
        return NULL;
    assert(it->state == ITEM_READY && TAILQ_FIRST(&it->key->items) == it);
    ready_unlink(q, it);
    it->state = ITEM_RUNNING;
    q->queued--;
    q->running++;
    return it;
}

/* Takes it out of its key and the queue; its key's next item gets its turn. */
static void item_leave(pf_keyq *q, pf_keyq_item *it)
{
    pf_keyq_key *k = it->key;
    bool was_first = TAILQ_FIRST(&k->items) == it;

    /* Only the first item of a key is ready or running (see the top). */
    assert(was_first || it->state == ITEM_WAITING);
    switch (it->state) {
    case ITEM_RUNNING:
        assert(q->running > 0);
        q->running--;
        break;
    case ITEM_READY:
        ready_unlink(q, it);
        assert(q->queued > 0);
        q->queued--;
        break;
    default:
        assert(it->state == ITEM_WAITING && q->queued > 0);
        q->queued--;
        break;
    }

    TAILQ_REMOVE(&k->items, it, key_link);
    pf_keyq_item_init(it);

    if (TAILQ_EMPTY(&k->items))
        key_free(q, k);
    else if (was_first)
        ready_append(q, TAILQ_FIRST(&k->items));
}

void pf_keyq_done(pf_keyq *q, pf_keyq_item *it)
{
    assert(it->key != NULL && it->state == ITEM_RUNNING);
    if (it->key == NULL || it->state != ITEM_RUNNING)
        return; /* where asserts are compiled out (NDEBUG) */
    item_leave(q, it);
}

void pf_keyq_remove(pf_keyq *q, pf_keyq_item *it)
{
    if (it->key == NULL)
        return;
    item_leave(q, it);
}

/*
 * Walks every key and its items. The next key and the next item are read
 * before an item leaves: leaving frees the key entry only with its last
 * item, and the callback may free the item's structure.
 */
size_t pf_keyq_remove_if(pf_keyq *q, pf_keyq_pred_fn pred,
                         pf_keyq_removed_fn removed, void *arg)
{
    pf_keyq_key *k, *next_k;
    pf_keyq_item *it, *next_it;
    size_t n = 0;

    for (k = LIST_FIRST(&q->keys); k != NULL; k = next_k) {
        next_k = LIST_NEXT(k, link);
        for (it = TAILQ_FIRST(&k->items); it != NULL; it = next_it) {
            next_it = TAILQ_NEXT(it, key_link);
            if (pred != NULL && !pred(it, arg))
                continue;
            item_leave(q, it);
            n++;
            if (removed != NULL)
                removed(it, arg);
        }
    }
    return n;
}

size_t pf_keyq_clear(pf_keyq *q, pf_keyq_removed_fn removed, void *arg)
{
    return pf_keyq_remove_if(q, NULL, removed, arg);
}

size_t pf_keyq_running(const pf_keyq *q)
{
    return q->running;
}

size_t pf_keyq_queued(const pf_keyq *q)
{
    return q->queued;
}

size_t pf_keyq_ready(const pf_keyq *q)
{
    return q->ready;
}

size_t pf_keyq_keys(const pf_keyq *q)
{
    return q->nkeys;
}

size_t pf_keyq_max_running(const pf_keyq *q)
{
    return q->max_running;
}

bool pf_keyq_item_queued(const pf_keyq_item *it)
{
    return it->state == ITEM_WAITING || it->state == ITEM_READY;
}

bool pf_keyq_item_running(const pf_keyq_item *it)
{
    return it->state == ITEM_RUNNING;
}

const void *pf_keyq_item_key(const pf_keyq_item *it, size_t *len)
{
    if (len != NULL)
        *len = it->key != NULL ? it->key->len : 0;
    return it->key != NULL ? (const void *)it->key->bytes : NULL;
}
