/*
 * offsets.h - which input offset of one partition may be committed, when
 * records complete out of order, and the commit metadata that goes with
 * it (docs/design.md, "The delivery argument": an input offset is
 * committed only once its outcome record, and dead letter, is
 * acknowledged by Kafka, up to the lowest one not done; the done ones
 * past it are remembered in the commit's metadata, so that a restart does
 * not process them again).
 *
 * The service runs records of one partition concurrently (different keys),
 * so they finish in any order. One tracker per assigned partition follows
 * them:
 * - pf_ptrack_received() for every record the consumer hands over, in the
 *   consumer's order; it says whether the record must be processed or
 *   skipped because an earlier run already completed it;
 * - pf_ptrack_done() once Kafka acknowledged the record's outcome (and
 *   dead letter);
 * - pf_ptrack_commit_offset() and pf_ptrack_commit_metadata() give the
 *   offset and metadata to commit, pf_ptrack_dirty() whether a commit is
 *   due.
 *
 * Offsets of a partition reach the consumer in increasing order but not
 * contiguously: compaction, transaction markers and aborted records leave
 * holes. The commit position (Kafka's meaning: the next offset to consume)
 * is therefore the lowest offset received and not yet done or, if none is
 * pending, the offset after the last one received, moved past any offsets
 * the metadata remembered as done. It never passes a pending offset.
 *
 * Commit metadata (untrusted when read back: it comes from the broker) is
 * a versioned text, at most a caller-given size, in one of three forms:
 *
 *   pf1:<base>                nothing done above base
 *   pf1:<base>:<runs>         runs of done offsets, comma-separated
 *   pf1:<base>:b<bitmap>      the same as a bitmap
 *
 * <base> is the commit position the metadata was written with; a tracker
 * uses the metadata only when it starts from that very offset. Numbers are
 * decimal, without sign or leading zeros. A run is "g" or "g+e": it covers
 * the offsets from `c + g` to `c + g + e`, where the cursor c is base + 1
 * for the first run and the previous run's last offset + 2 after it (the
 * offset right after a run is never done, else the run would include it).
 * Example: base 100 with 102..105, 107 and 110 done is
 * "pf1:100:1+3,0,1" as runs (gaps are base-relative for the first run,
 * then relative to the previous run, which keeps the text short). The
 * bitmap is base64url without padding: character j holds the offsets
 * base + 1 + 6j .. base + 6 + 6j, the least significant bit the lowest
 * (character values 'A' = 0 ... '_' = 63); the same example is
 * "pf1:100:beJ". The encoder writes whichever form remembers more offsets
 * in the space given, the shorter one when both remember as many (runs on
 * a tie): runs for sparse or clustered completions, the bitmap (6 offsets
 * a character) for a dense scatter, e.g. thousands of random completions.
 *
 * Offsets that were never received between two done ones (holes) may be
 * listed as done: the consumer skipped them, so they never come back.
 *
 * The whole commit metadata of a partition (pf_ckpt_meta_parse() and
 * pf_ckpt_meta_format(), the one reader and writer of it) is a sequence of
 * parts, every one optional, written in this order:
 *
 *   hw=<offset>;              the intent: records up to this offset may
 *                             have been sent to Graph (partition.h), no
 *                             record above it was. A periodic commit
 *                             writes every record received (and the
 *                             previous owner's intent); a hand-off only
 *                             those that may really have been sent and
 *                             are not done. Both read the same way, so
 *                             text of either age is read safely.
 *   s=<wall ms>;              written at a clean hand-off: when the creates
 *                             its owner abandoned will have landed, in ms
 *                             since the epoch; 0 when none was in flight
 *   pf1:...                   the done offsets, as above
 *
 * Numbers are decimal, without sign or leading zeros; an offset is at most
 * PF_PTRACK_OFFSET_MAX. Examples: "hw=4711;s=0;pf1:4700" (a hand-off),
 * "hw=4711;pf1:4700:1000,2000+5" (a periodic commit), "hw=99;" (provflow
 * replay), "pf1:100" (the tracker's part alone, as written before intents).
 *
 * Every part but the tracker's ends with ';', so that a cut-off number is
 * malformed rather than smaller: a smaller hw or s would be read as "sent
 * nothing" or "landed sooner", the unsafe way (Kafka stores metadata
 * whole or refuses it; the ';' guards against any other path). The
 * reader is tolerant, for text that comes back from the broker: parts in
 * any order (the tracker's is the one that starts with "pf1:", ended by
 * ';' or the end), unknown names ignored (room for later parts), a
 * malformed part ignored alone. A repeated hw or s counts with its
 * largest value, the cautious reading (more records checked, a longer
 * wait); two different pf1 parts are both ignored, as skipping a record
 * that is not done is the one reading that loses an outcome (processing
 * one again is safe: the duplicate check finds its flow).
 *
 * Not thread-safe: one event-loop thread owns a tracker. No clock, no I/O.
 */
#ifndef PROVFLOW_OFFSETS_H
#define PROVFLOW_OFFSETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pf_ptrack pf_ptrack;

/*
 * The largest offset a tracker accepts: one less than INT64_MAX, so that
 * "the offset after it" is still an int64_t. Kafka offsets never get near.
 */
#define PF_PTRACK_OFFSET_MAX (INT64_MAX - 1)

/*
 * Metadata longer than this is ignored unread. Kafka brokers refuse commit
 * metadata longer than offset.metadata.max.bytes (4096 by default); this
 * leaves room for brokers configured higher while bounding what the parser
 * allocates (at most 3 runs per bitmap character).
 */
#define PF_PTRACK_METADATA_MAX_LEN 65536

/*
 * A buffer of this size always holds the metadata header ("pf1:" and a
 * 19-digit position, plus the NUL), so pf_ptrack_commit_metadata() succeeds
 * with it once a position is known, listing no done offset if need be.
 */
#define PF_PTRACK_METADATA_MIN_SIZE 24

/*
 * A good buffer size for the metadata: under the brokers' default
 * offset.metadata.max.bytes of 4096 with a margin. It remembers a few
 * hundred to a thousand runs, or any done offsets within about 23,900
 * offsets above the commit position as a bitmap.
 */
#define PF_PTRACK_METADATA_SIZE_DEFAULT 4000

/* What pf_ptrack_received() returns. */
enum {
    PF_PTRACK_PROCESS = 0, /* new work: process it, then pf_ptrack_done() */
    PF_PTRACK_SKIP = 1,    /* completed before a restart: already done */
    PF_PTRACK_ERR_INVALID = -1, /* offset out of order or out of range */
    PF_PTRACK_ERR_NOMEM = -2,   /* memory ran out; nothing changed */
};

/*
 * Creates a tracker for one partition.
 *
 * start_offset: the committed offset the consumer starts from, i.e. the
 *   commit position of the previous owner (0 .. INT64_MAX, one past
 *   PF_PTRACK_OFFSET_MAX); any negative value (librdkafka's
 *   RD_KAFKA_OFFSET_INVALID when nothing was committed, for instance) means
 *   unknown, and then the first received offset sets the position.
 * metadata, metadata_len: the commit metadata read back with start_offset,
 *   as librdkafka gives it (not necessarily NUL-terminated; NUL bytes are
 *   malformed). NULL or empty means none. It is read once, not kept. Any
 *   metadata that is not valid "pf1" text written for start_offset is
 *   ignored as a whole, never partly used: the records it would have
 *   skipped are processed again, and the duplicate check finds their
 *   flows. pf_ptrack_metadata_error() says why.
 *
 * Returns NULL if memory runs out.
 */
pf_ptrack *pf_ptrack_new(int64_t start_offset, const char *metadata,
                         size_t metadata_len);

/* Frees the tracker. t may be NULL. */
void pf_ptrack_destroy(pf_ptrack *t);

/*
 * Why the metadata given to pf_ptrack_new() was ignored, or later
 * discarded (see pf_ptrack_received()), for a log line: a static string.
 * NULL when there was none or it is in use.
 */
const char *pf_ptrack_metadata_error(const pf_ptrack *t);

/*
 * Tells the tracker that the consumer handed over the record at offset
 * (0 .. PF_PTRACK_OFFSET_MAX), which must be above every offset received
 * before. Returns:
 * - PF_PTRACK_PROCESS: process the record; it is pending until
 *   pf_ptrack_done();
 * - PF_PTRACK_SKIP: the metadata says an earlier run completed it (its
 *   outcome is published); it counts as done already, do not call
 *   pf_ptrack_done() for it;
 * - PF_PTRACK_ERR_INVALID: offset is negative, above PF_PTRACK_OFFSET_MAX,
 *   or not above the last offset received; a caller error (after a seek,
 *   start a new tracker); nothing changed;
 * - PF_PTRACK_ERR_NOMEM: nothing changed; the call may be repeated.
 *
 * If the first offset received is below start_offset (the consumer was
 * reset to an earlier offset, say because the log was truncated), the
 * metadata no longer describes this log: it is discarded, and tracking
 * starts from that offset. O(1) amortised.
 */
int pf_ptrack_received(pf_ptrack *t, int64_t offset);

/*
 * Marks a pending offset done: Kafka acknowledged its outcome (and dead
 * letter). Returns 0, or -1 (nothing changed) if offset is not pending:
 * never received, skipped, already done, or below the commit position.
 * O(log n) in the offsets tracked, plus the amortised cost of moving the
 * position.
 */
int pf_ptrack_done(pf_ptrack *t, int64_t offset);

/*
 * Marks a pending offset as sent: its create may reach Graph from now on
 * (partition.h lets it go). Returns 0, or -1 (nothing changed) if offset
 * is not pending. O(log n).
 */
int pf_ptrack_sent(pf_ptrack *t, int64_t offset);

/*
 * Takes the sent mark back: the record passed the gate but its create
 * never went out (graph.h, pf_graph_job_posted()). Returns 0, or -1
 * (nothing changed) if offset is not pending. O(log n).
 */
int pf_ptrack_unsent(pf_ptrack *t, int64_t offset);

/*
 * The highest offset marked sent and not yet done, or -1: what a hand-off
 * must still call "may have been sent". O(n) in the offsets tracked, at
 * worst; for a hand-off, not for every record.
 */
int64_t pf_ptrack_sent_max(const pf_ptrack *t);

/*
 * The offset to commit: the next one to consume after a restart. Equal to
 * start_offset until the first offset is received; -1 while unknown (no
 * start_offset and nothing received yet), when there is nothing to commit.
 * Never decreases, except when pf_ptrack_received() discards the metadata.
 */
int64_t pf_ptrack_commit_offset(const pf_ptrack *t);

/*
 * Writes the metadata to commit with pf_ptrack_commit_offset() into buf
 * (size bytes, NUL-terminated; its length is strlen(buf)): the done
 * offsets above the commit position, so that a restart skips them.
 *
 * Offsets that do not fit in size - 1 characters are left out, the highest
 * first. This is the fallback, not a loss: after a restart those records
 * are processed again, and the duplicate check finds the flows they made
 * (docs/design.md, "Nothing is created twice"). The tracker still knows
 * them, so a later commit lists them once the position has moved on and
 * they fit.
 *
 * Returns 0 when every done offset is listed; 1 when the highest were left
 * out, and *dropped (if dropped is not NULL) receives how many done offsets
 * that is (offsets remembered from the metadata and not yet received count
 * as done); -1, with buf "" when size > 0, when there is no position yet or
 * size is too small for the header (PF_PTRACK_METADATA_MIN_SIZE always
 * suffices). O(n) in the offsets tracked.
 */
int pf_ptrack_commit_metadata(const pf_ptrack *t, char *buf, size_t size,
                              uint64_t *dropped);

/*
 * True when the commit position moved or an offset became done since the
 * tracker was created or pf_ptrack_committed() was last called: a commit
 * is due. The position moving over holes alone (an offset received after
 * a gap when nothing is pending) counts as a move.
 */
bool pf_ptrack_dirty(const pf_ptrack *t);

/*
 * Clears the dirty flag. Call it when handing the current
 * pf_ptrack_commit_offset() and pf_ptrack_commit_metadata() to Kafka.
 */
void pf_ptrack_committed(pf_ptrack *t);

/*
 * Sets the dirty flag again: call it when an asynchronous commit failed
 * (the offset commit callback reported an error), so that the next turn of
 * the loop commits once more even if nothing else changed.
 */
void pf_ptrack_set_dirty(pf_ptrack *t);

/* Offsets received for processing and not yet done. */
size_t pf_ptrack_pending(const pf_ptrack *t);

/*
 * Offsets received above the commit position that are done (skipped ones
 * included): with pf_ptrack_pending(), what the tracker holds per offset.
 * For metrics and backpressure.
 */
size_t pf_ptrack_done_above(const pf_ptrack *t);

/*
 * Bytes allocated by the tracker: a constant, about 9 bytes per pending or
 * done-above offset (a ring that shrinks again after a burst), and 16 bytes
 * per run of offsets remembered from the metadata and not yet received.
 * Gaps between offsets cost nothing.
 */
size_t pf_ptrack_memory(const pf_ptrack *t);

/*
 * Checks metadata (metadata_len bytes, not necessarily NUL-terminated) as
 * pf_ptrack_new() reads it, without a tracker: returns 0 and the commit
 * position it was written for in *base, or -1 and the reason in *reason
 * (a static string). base and reason may be NULL.
 */
int pf_ptrack_metadata_check(const char *metadata, size_t metadata_len,
                             int64_t *base, const char **reason);

/*
 * The commit metadata of a partition, read (see "The whole commit
 * metadata" above).
 */
typedef struct pf_ckpt_meta {
    int64_t hw;             /* the intent, 0 .. PF_PTRACK_OFFSET_MAX; -1 none */
    int64_t settle_wall_ms; /* "s=": -1 none, 0 nothing in flight */
    /*
     * The tracker's part, valid "pf1" text (pf_ptrack_metadata_check()),
     * pointing into the parsed text, not NUL-terminated: give it to
     * pf_ptrack_new() while that text lives. NULL (done_len 0): none.
     */
    const char *done;
    size_t done_len;
    unsigned ignored; /* parts left out: unknown, malformed, conflicting */
} pf_ckpt_meta;

/*
 * A buffer of this size always holds the "hw=" and "s=" parts with
 * 19-digit numbers and the tracker's header (PF_PTRACK_METADATA_MIN_SIZE),
 * so pf_ckpt_meta_format() succeeds with it.
 */
#define PF_CKPT_META_MIN_SIZE (23 + 22 + PF_PTRACK_METADATA_MIN_SIZE)

/*
 * Reads commit metadata as librdkafka gives it: text, len bytes, not
 * necessarily NUL-terminated (a NUL byte makes its part malformed); text
 * may be NULL when len is 0. Untrusted: never reads past len, never allocates;
 * text longer than PF_PTRACK_METADATA_MAX_LEN is ignored unread. Fills *out
 * (none values for what is absent or ignored) and returns 0, or -1 when
 * nothing in it is usable (no hw, no s, no valid tracker part).
 */
int pf_ckpt_meta_parse(const char *text, size_t len, pf_ckpt_meta *out);

/*
 * Writes commit metadata into buf (n bytes, NUL-terminated): "hw=<hw>;"
 * when hw >= 0, "s=<settle_wall_ms>;" when settle_wall_ms >= 0, then the
 * tracker's part (pf_ptrack_commit_metadata()) when track is not NULL and
 * has a commit position; its done offsets shrink to fit what is left of n.
 * Returns the length written, or -1 (buf "" when n > 0) when hw is above
 * PF_PTRACK_OFFSET_MAX or n is too small for the hw and s parts and the
 * tracker's header (PF_CKPT_META_MIN_SIZE always suffices).
 */
int pf_ckpt_meta_format(char *buf, size_t n, int64_t hw, int64_t settle_wall_ms,
                        const pf_ptrack *track);

/*
 * pf_ckpt_meta_format() for a partition's own commit: when the tracker's
 * part leaves done offsets out, hw is raised to the highest of them (the
 * next owner processes them again, so it must look for their flows before
 * creating them), whatever hw was given. A hand-off's narrow intent needs
 * it; a periodic one covers them already, except remembered offsets not
 * yet received.
 */
int pf_ckpt_meta_format_covering(char *buf, size_t n, int64_t hw,
                                 int64_t settle_wall_ms,
                                 const pf_ptrack *track);

#endif /* PROVFLOW_OFFSETS_H */
