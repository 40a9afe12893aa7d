/* keyq.c - per-key ordering with bounded concurrency (keyq.h). */
#include "provflow/keyq.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * Invariant: a key's items are linked oldest first from key->head; the head
 * is READY (and then in the queue's ready list) or RUNNING, every other item
 * of the key is WAITING. So at most one item per key runs, and the next one
 * cannot become ready before the head leaves.
 */
enum {
    ITEM_IDLE = 0, /* in no queue */
    ITEM_WAITING,  /* behind its key's head */
    ITEM_READY,    /* its key's head, in the ready list */
    ITEM_RUNNING,  /* its key's head, popped */
};

struct pf_keyq_key {
    pf_keyq_item *head, *tail; /* the key's items, oldest first */
    pf_keyq_key *prev, *next;  /* all keys, for pf_keyq_remove_if() */
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
    pf_keyq_item *ready_head, *ready_tail;
    pf_keyq_key *keys; /* list of all entries */
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
    for (k = q->keys; k != NULL; k = k->next) {
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

    if (k->prev != NULL)
        k->prev->next = k->next;
    else
        q->keys = k->next;
    if (k->next != NULL)
        k->next->prev = k->prev;
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
    return q;
}

void pf_keyq_destroy(pf_keyq *q)
{
    pf_keyq_key *k, *next;

    if (q == NULL)
        return;
    for (k = q->keys; k != NULL; k = next) {
        next = k->next;
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
    it->ready_next = NULL;
    it->ready_prev = q->ready_tail;
    if (q->ready_tail != NULL)
        q->ready_tail->ready_next = it;
    else
        q->ready_head = it;
    q->ready_tail = it;
    q->ready++;
}

static void ready_unlink(pf_keyq *q, pf_keyq_item *it)
{
    if (it->ready_prev != NULL)
        it->ready_prev->ready_next = it->ready_next;
    else
        q->ready_head = it->ready_next;
    if (it->ready_next != NULL)
        it->ready_next->ready_prev = it->ready_prev;
    else
        q->ready_tail = it->ready_prev;
    it->ready_prev = NULL;
    it->ready_next = NULL;
    q->ready--;
}

int pf_keyq_push(pf_keyq *q, const void *key, size_t key_len, pf_keyq_item *it)
{
    pf_keyq_key *k;
    uint64_t h;
    size_t slot;
    bool found;

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
        k->head = NULL;
        k->tail = NULL;
        k->hash = h;
        k->len = key_len;
        if (key_len > 0)
            memcpy(k->bytes, key, key_len);
        k->prev = NULL;
        k->next = q->keys;
        if (q->keys != NULL)
            q->keys->prev = k;
        q->keys = k;
        q->slots[slot] = k;
        q->nkeys++;
    }

    it->key = k;
    it->key_next = NULL;
    it->key_prev = k->tail;
    if (k->tail != NULL)
        k->tail->key_next = it;
    else
        k->head = it;
    k->tail = it;
    q->queued++;
    if (k->head == it)
        ready_append(q, it);
    else
        it->state = ITEM_WAITING;
    return 0;
}

pf_keyq_item *pf_keyq_pop_ready(pf_keyq *q)
{
    pf_keyq_item *it = q->ready_head;

    if (it == NULL || q->running >= q->max_running)
        return NULL;
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
    bool was_head = k->head == it;

    switch (it->state) {
    case ITEM_RUNNING:
        q->running--;
        break;
    case ITEM_READY:
        ready_unlink(q, it);
        q->queued--;
        break;
    default:
        q->queued--;
        break;
    }

    if (it->key_prev != NULL)
        it->key_prev->key_next = it->key_next;
    else
        k->head = it->key_next;
    if (it->key_next != NULL)
        it->key_next->key_prev = it->key_prev;
    else
        k->tail = it->key_prev;
    pf_keyq_item_init(it);

    if (k->head == NULL)
        key_free(q, k);
    else if (was_head)
        ready_append(q, k->head);
}

void pf_keyq_done(pf_keyq *q, pf_keyq_item *it)
{
    if (it->key == NULL || it->state != ITEM_RUNNING)
        return;
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

    for (k = q->keys; k != NULL; k = next_k) {
        next_k = k->next;
        for (it = k->head; it != NULL; it = next_it) {
            next_it = it->key_next;
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
