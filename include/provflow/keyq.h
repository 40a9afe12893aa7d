/*
 * keyq.h - per-key ordering with bounded concurrency: requests with the same
 * record key run strictly in order, and a key that waits (a backoff, a
 * settle time) holds back no other key (docs/contract.md, "Delivery").
 *
 * Work items are identified by a key: any bytes, NUL bytes and the empty key
 * included (the Kafka record key, else the flowSetId). The queue guarantees:
 * - items of one key start strictly in the order they were pushed, and at
 *   most one item per key is running at a time;
 * - items of different keys run concurrently, up to max_running items in
 *   all;
 * - an item whose key is busy waits without holding back other keys;
 * - items become "ready" (their key's turn has come) in some order, and
 *   pf_keyq_pop_ready() starts them in exactly that order (FIFO across keys).
 *
 * An item is "queued" from pf_keyq_push() until pf_keyq_pop_ready() returns
 * it, then "running" until pf_keyq_done() or pf_keyq_remove(). "running"
 * means started and not finished: a request sleeping in a retry backoff is
 * still running and still holds its key and one of the max_running slots.
 *
 * Items are intrusive: the caller embeds a pf_keyq_item in its own job
 * structure and gets the job back with PF_KEYQ_ENTRY() (container_of), like
 * the lists of Linux and redis. Pushing therefore never allocates for the
 * item itself, removing a given item is O(1) without a search, and the queue
 * never owns the caller's jobs. The only allocations are one entry per
 * distinct live key (the key bytes are copied into it) and the key table;
 * an entry is freed as soon as its key has no queued or running item, and
 * the table shrinks with the number of keys, so memory is bounded by the
 * number of live items.
 *
 * Not thread-safe: one event-loop thread owns a queue and its items.
 * Callbacks (pf_keyq_remove_if(), pf_keyq_clear()) are made on the calling
 * thread, from inside the call.
 */
#ifndef PROVFLOW_KEYQ_H
#define PROVFLOW_KEYQ_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/queue.h>

typedef struct pf_keyq pf_keyq;
typedef struct pf_keyq_key pf_keyq_key; /* private to keyq.c */
typedef struct pf_keyq_item pf_keyq_item;

/*
 * The node embedded in a job. Fields are private to keyq.c; the struct is
 * public only so that it can be embedded. Initialise it with
 * pf_keyq_item_init() before its first push.
 */
struct pf_keyq_item {
    TAILQ_ENTRY(pf_keyq_item) key_link;   /* the key's items, oldest first */
    TAILQ_ENTRY(pf_keyq_item) ready_link; /* the queue's ready list */
    pf_keyq_key *key;                     /* NULL when not in a queue */
    int state;
};

/* The structure of type `type` whose member `member` is the node `item`. */
#define PF_KEYQ_ENTRY(item, type, member)                                      \
    ((type *)(void *)((char *)(item)-offsetof(type, member)))

/*
 * Creates an empty queue that lets at most max_running items run at once.
 * Returns NULL if max_running is 0 or memory runs out.
 */
pf_keyq *pf_keyq_new(size_t max_running);

/*
 * Frees the queue and its key entries. Items still in it are forgotten, not
 * touched: the caller still owns them and must pf_keyq_item_init() a node
 * again before pushing it to another queue. To hand every item back first,
 * call pf_keyq_clear(). q may be NULL.
 */
void pf_keyq_destroy(pf_keyq *q);

/* Prepares a node that is in no queue. */
void pf_keyq_item_init(pf_keyq_item *it);

/*
 * Appends it behind the items of key (key_len bytes, copied; key may be NULL
 * only when key_len is 0, which is the same key as any other empty key).
 * it becomes ready at once if its key has no other item, else when the
 * items before it are done or removed. The caller keeps owning the
 * structure around it and must keep it alive and in place until it leaves
 * the queue (pf_keyq_done(), pf_keyq_remove(), or a callback of
 * pf_keyq_remove_if() / pf_keyq_clear()).
 * it must be in no queue (a programmer error, not an input error:
 * asserted; where asserts are compiled out, -1 and nothing changed).
 * Returns 0, or -1 (nothing changed) if memory runs out.
 */
int pf_keyq_push(pf_keyq *q, const void *key, size_t key_len, pf_keyq_item *it);

/*
 * Starts the item that became ready first, if fewer than max_running items
 * are running: it leaves the ready list, counts as running, and is returned.
 * Returns NULL when nothing is ready or max_running items already run. Call
 * it in a loop until NULL after each push, done or remove.
 */
pf_keyq_item *pf_keyq_pop_ready(pf_keyq *q);

/*
 * Ends a running item: it leaves the queue (its node is as after
 * pf_keyq_item_init(), so the caller may free or re-push it), and the next
 * item of its key, if any, becomes ready (last in the ready list). it must
 * be running in q (returned by pf_keyq_pop_ready() and not yet done);
 * anything else is a programmer error (asserted; ignored where asserts
 * are compiled out).
 */
void pf_keyq_done(pf_keyq *q, pf_keyq_item *it);

/*
 * Takes it out of q whatever its state, for abandoned work (a revoked
 * partition, shutdown). A running item is ended as by pf_keyq_done(); a
 * queued item is unlinked, and if it was its key's ready item the next one
 * of that key becomes ready. The order of the key's remaining items is kept.
 * Does nothing if it is in no queue. O(1).
 */
void pf_keyq_remove(pf_keyq *q, pf_keyq_item *it);

/* Decides for one item; must not change the queue. */
typedef bool (*pf_keyq_pred_fn)(const pf_keyq_item *it, void *arg);

/*
 * Told about an item that has just left the queue; the node is already
 * unlinked, so the callback may free the structure around it. It must not
 * call into the same queue.
 */
typedef void (*pf_keyq_removed_fn)(pf_keyq_item *it, void *arg);

/*
 * Removes, as by pf_keyq_remove(), every item (queued or running) for which
 * pred(it, arg) is true (every item if pred is NULL), and calls removed(it,
 * arg) after unlinking each (removed may be NULL). Used when Kafka revokes
 * partitions: the caller's pred looks up the partition in its own structure
 * (PF_KEYQ_ENTRY). O(items
 * + keys): revocations are rare and the number of live items is bounded by
 * the caller's backpressure, so no per-partition index is kept. Returns how
 * many items were removed.
 */
size_t pf_keyq_remove_if(pf_keyq *q, pf_keyq_pred_fn pred,
                         pf_keyq_removed_fn removed, void *arg);

/*
 * Removes every item, calling removed(it, arg) for each (may be NULL), for
 * shutdown. The queue is then empty and may be used again or destroyed.
 * Returns how many items were removed.
 */
size_t pf_keyq_clear(pf_keyq *q, pf_keyq_removed_fn removed, void *arg);

/* Items started and not yet done or removed. */
size_t pf_keyq_running(const pf_keyq *q);

/* Items pushed and not yet started: waiting behind their key, or ready. */
size_t pf_keyq_queued(const pf_keyq *q);

/* Queued items whose key's turn has come (pf_keyq_pop_ready() candidates). */
size_t pf_keyq_ready(const pf_keyq *q);

/* Distinct keys with a queued or running item (for tests and metrics). */
size_t pf_keyq_keys(const pf_keyq *q);

/* max_running, as given to pf_keyq_new(). */
size_t pf_keyq_max_running(const pf_keyq *q);

/* True while it is in a queue and not yet started. */
bool pf_keyq_item_queued(const pf_keyq_item *it);

/* True while it is running (popped and not yet done or removed). */
bool pf_keyq_item_running(const pf_keyq_item *it);

/*
 * The key of an item that is in a queue, and its length in *len (len may be
 * NULL). Borrowed: valid while the item stays in the queue. NULL (and
 * *len 0) if the item is in no queue.
 */
const void *pf_keyq_item_key(const pf_keyq_item *it, size_t *len);

#endif /* PROVFLOW_KEYQ_H */
