/*
 * partition.h - what the loop knows of one assigned partition: which of
 * its records are done (the tracker, offsets.h), what the previous owner
 * may have sent (its intent and hand-off time, read from the commit), the
 * intent this owner has committed, and the records waiting for it.
 *
 * The rule it keeps (docs/design.md, "The delivery argument"): a record
 * may reach Graph only once an intent covering its offset is committed
 * (pf_part_may_send), so that whoever owns the partition next knows to
 * check Graph before creating it again; a record at or below the previous
 * owner's intent is checked first, and created only after the previous
 * owner's creates have landed (pf_part_check_first).
 *
 * Pure state: no Kafka, no clock of its own (callers pass the times), no
 * I/O. One thread (the loop's).
 */
#ifndef PROVFLOW_PARTITION_H
#define PROVFLOW_PARTITION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "provflow/offsets.h"

/* A record waiting for its partition's intent; embedded by the caller. */
typedef struct pf_part_waiter {
    TAILQ_ENTRY(pf_part_waiter) link;
    int64_t offset;
} pf_part_waiter;

typedef struct pf_part {
    int32_t id;
    pf_ptrack *track;
    int64_t hw_prev; /* offsets up to this may have been sent before */
    /*
     * The group had never committed this partition when it was assigned:
     * records below this offset (the end of the partition then) may have
     * been processed by another group, or before the group was renamed;
     * each is checked before a create. -1: none.
     */
    int64_t unseen_end;
    int64_t received_max; /* highest offset received, -1 none */
    int64_t intent_acked; /* highest offset covered by a committed intent */
    int64_t intent_sent;  /* ... by the commit in flight */
    TAILQ_HEAD(pf_part_waitq, pf_part_waiter)
    waiting; /* for the intent, in turn order */
    /*
     * Records at or below hw_prev may have been sent by the previous owner:
     * no create for them before this (monotonic) time, when whatever it
     * sent has landed (graph.h, "settle").
     */
    int64_t create_after_ms;
    /* At a hand-off: the same for the next owner, monotonic; -1 unknown */
    int64_t handoff_settle_ms;
} pf_part;

/*
 * A partition taken on at now_ms (monotonic; wall_ms the wall clock) from
 * its commit: offset (-1: none) and metadata (offsets.h, "The whole
 * commit metadata"; len bytes, untrusted). settle_ms: how long a create
 * may take to land (--settle-ms). *ignored: metadata parts ignored (for a
 * log line). NULL when memory runs out.
 */
pf_part *pf_part_new(int32_t id, int64_t committed, const char *metadata,
                     size_t len, int64_t settle_ms, int64_t now_ms,
                     int64_t wall_ms, unsigned *ignored);

/* Frees the partition; its waiters are only forgotten (the caller's). */
void pf_part_destroy(pf_part *pt);

/*
 * A record at offset arrived: pf_ptrack_received()'s answer (offsets.h:
 * process, skip as done, skip as seen, or out of memory).
 */
int pf_part_received(pf_part *pt, int64_t offset);

/*
 * Whether the record at offset must look for its flow in Graph before a
 * create: the previous owner may have sent it (then *create_after_ms is
 * when its create would have landed, else 0), or the group never
 * committed the partition before it.
 */
bool pf_part_check_first(const pf_part *pt, int64_t offset,
                         int64_t *create_after_ms);

/*
 * A record may be sent: a committed intent covers its offset. When true,
 * the caller sends it now, and the tracker remembers it as sent until it
 * is done (a hand-off's intent names only such records).
 */
bool pf_part_may_send(pf_part *pt, int64_t offset);

/*
 * Waits for the intent. Waiters come in the order their keys' turns came,
 * not by offset; they are released from the front while covered.
 */
void pf_part_wait(pf_part *pt, pf_part_waiter *w, int64_t offset);

/*
 * The first waiter that may now be sent, taken off the list (and, as with
 * pf_part_may_send(), remembered as sent); or NULL.
 */
pf_part_waiter *pf_part_released(pf_part *pt);

/* A waiter needs an intent no commit carries yet: commit soon. */
bool pf_part_intent_due(const pf_part *pt);

/* Waiters, and forgetting them all (they are the caller's). */
size_t pf_part_waiting(const pf_part *pt);
void pf_part_forget_waiters(pf_part *pt);

/*
 * The entry of a checkpoint: the offset to commit into *offset and its
 * metadata ("hw=", "s=" when handing off at now_ms/wall_ms, the tracker's
 * done list) into meta. Marks the intent as sent. Returns 0, or -1 when
 * there is nothing to commit yet.
 *
 * The intent ("hw=") of a periodic commit covers every record received
 * (a crash leaves it: the next owner checks them all). Once
 * pf_part_handoff() was called, nothing more is sent, and it names only
 * the records that may have been sent and are not done (those let
 * through by pf_part_may_send() or pf_part_released(), those under the
 * previous owner's intent, those the group never committed): after a
 * clean hand-off the next owner lists nothing it need not. From then on
 * no record above that intent may be sent.
 */
int pf_part_checkpoint(pf_part *pt, int64_t now_ms, int64_t wall_ms, char *meta,
                       size_t meta_size, int64_t *offset);

/* The checkpoint of pf_part_checkpoint() is stored (ok) or failed. */
void pf_part_acked(pf_part *pt, bool ok);

/* The partition is handed off (nothing more is sent for it); a create
 * this owner may have sent lands by until_ms (monotonic, 0: none): the
 * hand-off says so. Only ever raised. */
void pf_part_handoff(pf_part *pt, int64_t until_ms);

/* The record at offset passed the gate, but its create never went out:
 * the hand-off need not name it. */
void pf_part_unsent(pf_part *pt, int64_t offset);

/* The assigned partitions, by id. */
typedef struct pf_parts {
    pf_part **v;
    size_t n;
} pf_parts;

pf_part *pf_parts_get(const pf_parts *ps, int32_t id);
/* Puts pt at its id (none there). -1 when memory runs out. */
int pf_parts_put(pf_parts *ps, pf_part *pt);
/* Destroys the partition at id, if any. */
void pf_parts_remove(pf_parts *ps, int32_t id);
void pf_parts_release(pf_parts *ps);
/* Iteration: for (i = 0; i < ps->n; i++) if (ps->v[i] != NULL) ... */

#endif /* PROVFLOW_PARTITION_H */
