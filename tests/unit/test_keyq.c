/* test_keyq.c - per-key ordering, the running cap and FIFO fairness. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "provflow/keyq.h"

/* A caller's job with the node embedded, as the service will have it. */
typedef struct job {
    int id;
    pf_keyq_item node;
    int key;
    int seq;       /* position among the jobs of its key */
    int partition; /* for remove_if */
    int removed;   /* times the removed callback saw it */
} job;

#define JOB(it) PF_KEYQ_ENTRY(it, job, node)

static void job_init(job *j, int id, int key, int seq)
{
    memset(j, 0, sizeof(*j));
    j->id = id;
    j->key = key;
    j->seq = seq;
    pf_keyq_item_init(&j->node);
}

/* Pushes j under the key "k<key>". */
static void push(pf_keyq *q, job *j)
{
    char key[16];
    int n = snprintf(key, sizeof(key), "k%d", j->key);

    assert_int_equal(pf_keyq_push(q, key, (size_t)n, &j->node), 0);
}

/* The id of the job started next, or -1 when none may start. */
static int pop_id(pf_keyq *q)
{
    pf_keyq_item *it = pf_keyq_pop_ready(q);

    return it == NULL ? -1 : JOB(it)->id;
}

static void new_refuses_zero_running(void **state)
{
    (void)state;
    assert_null(pf_keyq_new(0));
    pf_keyq_destroy(NULL);
}

static void one_key_starts_in_push_order_one_at_a_time(void **state)
{
    pf_keyq *q = pf_keyq_new(8);
    job j[3];
    int i;

    (void)state;
    for (i = 0; i < 3; i++) {
        job_init(&j[i], i, 7, i);
        push(q, &j[i]);
    }
    assert_int_equal(pf_keyq_queued(q), 3);
    assert_int_equal(pf_keyq_ready(q), 1);
    assert_int_equal(pf_keyq_keys(q), 1);

    assert_int_equal(pop_id(q), 0);
    assert_int_equal(pop_id(q), -1); /* the key is busy */
    assert_true(pf_keyq_item_running(&j[0].node));
    assert_true(pf_keyq_item_queued(&j[1].node));
    pf_keyq_done(q, &j[0].node);
    assert_false(pf_keyq_item_running(&j[0].node));
    assert_false(pf_keyq_item_queued(&j[0].node));
    assert_int_equal(pop_id(q), 1);
    assert_int_equal(pop_id(q), -1);
    pf_keyq_done(q, &j[1].node);
    assert_int_equal(pop_id(q), 2);
    pf_keyq_done(q, &j[2].node);
    assert_int_equal(pop_id(q), -1);
    assert_int_equal(pf_keyq_running(q), 0);
    assert_int_equal(pf_keyq_queued(q), 0);
    assert_int_equal(pf_keyq_keys(q), 0);
    pf_keyq_destroy(q);
}

static void different_keys_run_concurrently(void **state)
{
    pf_keyq *q = pf_keyq_new(8);
    job a, b, a2;

    (void)state;
    job_init(&a, 0, 1, 0);
    job_init(&b, 1, 2, 0);
    job_init(&a2, 2, 1, 1);
    push(q, &a);
    push(q, &a2);
    push(q, &b);
    /* a2 waits behind a; b does not wait behind a2. */
    assert_int_equal(pop_id(q), 0);
    assert_int_equal(pop_id(q), 1);
    assert_int_equal(pop_id(q), -1);
    assert_int_equal(pf_keyq_running(q), 2);
    assert_int_equal(pf_keyq_queued(q), 1);
    pf_keyq_done(q, &b.node);
    assert_int_equal(pop_id(q), -1); /* key 1 still busy with a */
    pf_keyq_done(q, &a.node);
    assert_int_equal(pop_id(q), 2);
    pf_keyq_done(q, &a2.node);
    assert_int_equal(pf_keyq_keys(q), 0);
    pf_keyq_destroy(q);
}

static void max_running_caps_started_items(void **state)
{
    pf_keyq *q = pf_keyq_new(2);
    job j[4];
    int i;

    (void)state;
    assert_int_equal(pf_keyq_max_running(q), 2);
    for (i = 0; i < 4; i++) {
        job_init(&j[i], i, i, 0);
        push(q, &j[i]);
    }
    assert_int_equal(pf_keyq_ready(q), 4);
    assert_int_equal(pop_id(q), 0);
    assert_int_equal(pop_id(q), 1);
    assert_int_equal(pop_id(q), -1); /* cap reached, items still ready */
    assert_int_equal(pf_keyq_ready(q), 2);
    pf_keyq_done(q, &j[1].node);
    assert_int_equal(pop_id(q), 2);
    assert_int_equal(pop_id(q), -1);
    pf_keyq_done(q, &j[0].node);
    pf_keyq_done(q, &j[2].node);
    assert_int_equal(pop_id(q), 3);
    pf_keyq_done(q, &j[3].node);
    pf_keyq_destroy(q);
}

static void items_start_in_the_order_they_became_ready(void **state)
{
    pf_keyq *q = pf_keyq_new(1);
    job a1, a2, b1, c1;

    (void)state;
    job_init(&a1, 0, 1, 0);
    job_init(&a2, 1, 1, 1);
    job_init(&b1, 2, 2, 0);
    job_init(&c1, 3, 3, 0);
    push(q, &a1);
    push(q, &a2);
    push(q, &b1);
    push(q, &c1);
    /* Ready: a1, b1, c1. a2 becomes ready when a1 is done, after c1. */
    assert_int_equal(pop_id(q), 0);
    pf_keyq_done(q, &a1.node);
    assert_int_equal(pop_id(q), 2);
    pf_keyq_done(q, &b1.node);
    assert_int_equal(pop_id(q), 3);
    pf_keyq_done(q, &c1.node);
    assert_int_equal(pop_id(q), 1);
    pf_keyq_done(q, &a2.node);
    assert_int_equal(pop_id(q), -1);
    pf_keyq_destroy(q);
}

static void remove_takes_an_item_out_in_any_state(void **state)
{
    pf_keyq *q = pf_keyq_new(4);
    job j[5];
    int i;

    (void)state;
    for (i = 0; i < 5; i++) {
        job_init(&j[i], i, 1, i);
        push(q, &j[i]);
    }
    /* A waiting item in the middle: the others keep their order. */
    pf_keyq_remove(q, &j[2].node);
    assert_false(pf_keyq_item_queued(&j[2].node));
    assert_int_equal(pf_keyq_queued(q), 4);
    /* The ready head: the next one becomes ready. */
    pf_keyq_remove(q, &j[0].node);
    assert_int_equal(pf_keyq_ready(q), 1);
    assert_int_equal(pop_id(q), 1);
    /* A running item: as done. */
    pf_keyq_remove(q, &j[1].node);
    assert_int_equal(pf_keyq_running(q), 0);
    assert_int_equal(pop_id(q), 3);
    /* The last waiting item (the key's tail). */
    pf_keyq_remove(q, &j[4].node);
    pf_keyq_remove(q, &j[4].node); /* in no queue: nothing */
    assert_int_equal(pf_keyq_queued(q), 0);
    assert_int_equal(pf_keyq_keys(q), 1);
    pf_keyq_remove(q, &j[3].node);
    assert_int_equal(pf_keyq_keys(q), 0);
    assert_int_equal(pf_keyq_running(q), 0);
    assert_int_equal(pop_id(q), -1);
    /* A removed node may be pushed again. */
    push(q, &j[2]);
    assert_int_equal(pop_id(q), 2);
    pf_keyq_done(q, &j[2].node);
    pf_keyq_destroy(q);
}

static void removing_a_ready_item_keeps_fifo_of_others(void **state)
{
    pf_keyq *q = pf_keyq_new(1);
    job a, b, c;

    (void)state;
    job_init(&a, 0, 1, 0);
    job_init(&b, 1, 2, 0);
    job_init(&c, 2, 3, 0);
    push(q, &a);
    push(q, &b);
    push(q, &c);
    pf_keyq_remove(q, &b.node);
    assert_int_equal(pf_keyq_ready(q), 2);
    assert_int_equal(pop_id(q), 0);
    pf_keyq_done(q, &a.node);
    assert_int_equal(pop_id(q), 2);
    pf_keyq_done(q, &c.node);
    pf_keyq_destroy(q);
}

/*
 * Misuse is a programmer error, asserted (keyq.h): each case runs in a
 * child process, which must die of the failed assert(). Without asserts
 * (NDEBUG) there is nothing to observe.
 */
static void misuse_aborts(void (*misuse)(void))
{
#ifdef NDEBUG
    (void)misuse;
    skip();
#else
    pid_t pid = fork();
    int status;

    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);

        if (devnull >= 0)
            dup2(devnull, STDERR_FILENO); /* the assert's message */
        signal(SIGABRT, SIG_DFL);
        misuse();
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
#endif
}

static void done_of_a_ready_item(void)
{
    pf_keyq *q = pf_keyq_new(4);
    job a;

    job_init(&a, 0, 1, 0);
    push(q, &a);
    pf_keyq_done(q, &a.node);
}

static void done_of_a_waiting_item(void)
{
    pf_keyq *q = pf_keyq_new(4);
    job a, a2;

    job_init(&a, 0, 1, 0);
    job_init(&a2, 1, 1, 1);
    push(q, &a);
    push(q, &a2);
    pf_keyq_done(q, &a2.node);
}

static void done_of_an_item_in_no_queue(void)
{
    pf_keyq *q = pf_keyq_new(4);
    job idle;

    job_init(&idle, 2, 9, 0);
    pf_keyq_done(q, &idle.node);
}

static void done_twice(void)
{
    pf_keyq *q = pf_keyq_new(4);
    job a;

    job_init(&a, 0, 1, 0);
    push(q, &a);
    (void)pf_keyq_pop_ready(q);
    pf_keyq_done(q, &a.node);
    pf_keyq_done(q, &a.node);
}

static void push_of_a_queued_item(void)
{
    pf_keyq *q = pf_keyq_new(4);
    job a;

    job_init(&a, 0, 1, 0);
    push(q, &a);
    (void)pf_keyq_push(q, "other", 5, &a.node);
}

static void push_of_a_running_item(void)
{
    pf_keyq *q = pf_keyq_new(4);
    job a;

    job_init(&a, 0, 1, 0);
    push(q, &a);
    (void)pf_keyq_pop_ready(q);
    (void)pf_keyq_push(q, "other", 5, &a.node);
}

static void push_of_a_null_key_with_a_length(void)
{
    pf_keyq *q = pf_keyq_new(4);
    job a;

    job_init(&a, 0, 1, 0);
    (void)pf_keyq_push(q, NULL, 3, &a.node);
}

static void done_of_an_item_not_running_is_asserted(void **state)
{
    (void)state;
    misuse_aborts(done_of_a_ready_item);
    misuse_aborts(done_of_a_waiting_item);
    misuse_aborts(done_of_an_item_in_no_queue);
    misuse_aborts(done_twice);
}

static void push_of_an_item_in_a_queue_or_a_null_key_is_asserted(void **state)
{
    (void)state;
    misuse_aborts(push_of_a_queued_item);
    misuse_aborts(push_of_a_running_item);
    misuse_aborts(push_of_a_null_key_with_a_length);
}

static void binary_keys_compare_every_byte(void **state)
{
    static const char k1[] = {'a', '\0', 'b'};
    static const char k2[] = {'a', '\0', 'c'};
    pf_keyq *q = pf_keyq_new(8);
    job j[5];
    const void *kb;
    size_t klen;
    int i;

    (void)state;
    for (i = 0; i < 5; i++)
        job_init(&j[i], i, 0, 0);
    assert_int_equal(pf_keyq_push(q, k1, 3, &j[0].node), 0);
    assert_int_equal(pf_keyq_push(q, k2, 3, &j[1].node), 0);
    assert_int_equal(pf_keyq_push(q, "a", 1, &j[2].node), 0);
    assert_int_equal(pf_keyq_push(q, k1, 2, &j[3].node), 0); /* "a\0" */
    assert_int_equal(pf_keyq_push(q, k1, 3, &j[4].node), 0);
    assert_int_equal(pf_keyq_keys(q), 4);
    assert_int_equal(pf_keyq_ready(q), 4);

    kb = pf_keyq_item_key(&j[4].node, &klen);
    assert_int_equal(klen, 3);
    assert_memory_equal(kb, k1, 3);

    assert_int_equal(pop_id(q), 0);
    assert_int_equal(pop_id(q), 1);
    assert_int_equal(pop_id(q), 2);
    assert_int_equal(pop_id(q), 3);
    assert_int_equal(pop_id(q), -1); /* j[4] waits behind j[0] */
    pf_keyq_done(q, &j[0].node);
    assert_int_equal(pop_id(q), 4);
    for (i = 1; i < 5; i++)
        pf_keyq_done(q, &j[i].node);
    assert_int_equal(pf_keyq_keys(q), 0);
    assert_null(pf_keyq_item_key(&j[0].node, &klen));
    assert_int_equal(klen, 0);
    pf_keyq_destroy(q);
}

static void empty_key_is_one_key(void **state)
{
    pf_keyq *q = pf_keyq_new(8);
    job a, b, c;
    size_t klen = 99;

    (void)state;
    job_init(&a, 0, 0, 0);
    job_init(&b, 1, 0, 1);
    job_init(&c, 2, 0, 2);
    assert_int_equal(pf_keyq_push(q, NULL, 0, &a.node), 0);
    assert_int_equal(pf_keyq_push(q, "", 0, &b.node), 0);
    assert_int_equal(pf_keyq_push(q, "x", 0, &c.node), 0);
    assert_int_equal(pf_keyq_keys(q), 1);
    assert_non_null(pf_keyq_item_key(&a.node, &klen));
    assert_int_equal(klen, 0);
    assert_int_equal(pop_id(q), 0);
    assert_int_equal(pop_id(q), -1);
    pf_keyq_done(q, &a.node);
    assert_int_equal(pop_id(q), 1);
    pf_keyq_done(q, &b.node);
    assert_int_equal(pop_id(q), 2);
    pf_keyq_done(q, &c.node);
    assert_int_equal(pf_keyq_keys(q), 0);
    pf_keyq_destroy(q);
}

static bool in_partition(const pf_keyq_item *it, void *arg)
{
    return JOB(it)->partition == *(const int *)arg;
}

static void count_removed(pf_keyq_item *it, void *arg)
{
    (void)arg;
    JOB(it)->removed++;
}

static void remove_if_drops_one_partition(void **state)
{
    pf_keyq *q = pf_keyq_new(2);
    job j[8];
    int partition = 1;
    int i;

    (void)state;
    /* Keys 0..3, two jobs each; partition = key % 2 except job 7. */
    for (i = 0; i < 8; i++) {
        job_init(&j[i], i, i % 4, i / 4);
        j[i].partition = j[i].key % 2;
        push(q, &j[i]);
    }
    j[7].partition = 0; /* key 3 also has a job in partition 0 */
    assert_int_equal(pop_id(q), 0);
    assert_int_equal(pop_id(q), 1); /* running, partition 1 */

    assert_int_equal(
        pf_keyq_remove_if(q, in_partition, count_removed, &partition),
        3); /* 1, 5 (key 1) and 3 (key 3) */
    for (i = 0; i < 8; i++)
        assert_int_equal(j[i].removed, i == 1 || i == 3 || i == 5);
    assert_int_equal(pf_keyq_keys(q), 3);
    assert_int_equal(pf_keyq_running(q), 1);
    /* Ready: 2 (key 2), then 7 (key 3's next, ready when 3 left). */
    assert_int_equal(pop_id(q), 2);
    assert_int_equal(pop_id(q), -1);
    pf_keyq_done(q, &j[2].node); /* ready: 7, 6 */
    assert_int_equal(pop_id(q), 7);
    assert_int_equal(pop_id(q), -1); /* 6 is ready, but two run */
    pf_keyq_done(q, &j[0].node);     /* ready: 6, 4 */
    assert_int_equal(pop_id(q), 6);
    pf_keyq_done(q, &j[7].node);
    assert_int_equal(pop_id(q), 4);
    pf_keyq_done(q, &j[6].node);
    pf_keyq_done(q, &j[4].node);
    assert_int_equal(pf_keyq_keys(q), 0);
    pf_keyq_destroy(q);
}

static void free_removed(pf_keyq_item *it, void *arg)
{
    (*(int *)arg)++;
    free(JOB(it));
}

static void clear_hands_back_every_item(void **state)
{
    pf_keyq *q = pf_keyq_new(3);
    int freed = 0;
    job *j;
    int i;

    (void)state;
    for (i = 0; i < 50; i++) {
        j = malloc(sizeof(*j));
        assert_non_null(j);
        job_init(j, i, i % 7, i / 7);
        push(q, j);
    }
    assert_non_null(pf_keyq_pop_ready(q));
    assert_non_null(pf_keyq_pop_ready(q));
    /* The callback frees the jobs: ASan checks nothing touches them. */
    assert_int_equal(pf_keyq_clear(q, free_removed, &freed), 50);
    assert_int_equal(freed, 50);
    assert_int_equal(pf_keyq_running(q), 0);
    assert_int_equal(pf_keyq_queued(q), 0);
    assert_int_equal(pf_keyq_ready(q), 0);
    assert_int_equal(pf_keyq_keys(q), 0);
    assert_null(pf_keyq_pop_ready(q));
    /* The queue is usable after a clear. */
    j = malloc(sizeof(*j));
    assert_non_null(j);
    job_init(j, 99, 1, 0);
    push(q, j);
    assert_int_equal(pop_id(q), 99);
    pf_keyq_done(q, &j->node);
    free(j);
    pf_keyq_destroy(q);
}

static void destroy_forgets_items_still_queued(void **state)
{
    pf_keyq *q = pf_keyq_new(3);
    job j[4];
    int i;

    (void)state;
    for (i = 0; i < 4; i++) {
        job_init(&j[i], i, i % 2, i / 2);
        push(q, &j[i]);
    }
    assert_int_equal(pop_id(q), 0);
    pf_keyq_destroy(q); /* LeakSanitizer: key entries are freed */
}

/* xorshift64*: a fixed, reproducible sequence. */
static uint64_t rnd_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dULL;
}

#define MANY_ITEMS   100000
#define MANY_KEYS    1000
#define MANY_RUNNING 64

/*
 * 100k jobs over 1000 keys, pushed in random batches and completed in a
 * random order: every key's jobs start in push order, one at a time; the
 * cap holds; nothing that could start is held back; every key entry is
 * freed at the end.
 */
static void many_keys_keep_order_under_random_completion(void **state)
{
    pf_keyq *q = pf_keyq_new(MANY_RUNNING);
    job *jobs = calloc(MANY_ITEMS, sizeof(*jobs));
    int *pushed = calloc(MANY_KEYS, sizeof(int));
    int *started = calloc(MANY_KEYS, sizeof(int));
    char *busy = calloc(MANY_KEYS, 1);
    job *running[MANY_RUNNING];
    size_t nrunning = 0, max_keys = 0, r;
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    pf_keyq_item *it;
    int next = 0, done = 0, batch, key;
    job *j;

    (void)state;
    assert_non_null(jobs);
    assert_non_null(pushed);
    assert_non_null(started);
    assert_non_null(busy);
    while (done < MANY_ITEMS) {
        /*
         * Push a random batch, now and then a burst that fills the queue;
         * skewed keys make some keys long queues.
         */
        batch = (int)(rnd_next(&seed) % 40);
        if (rnd_next(&seed) % 200 == 0)
            batch = 3000;
        for (; batch > 0 && next < MANY_ITEMS; batch--, next++) {
            r = rnd_next(&seed) % 4;
            key = (int)(rnd_next(&seed) % (r == 0 ? 10 : MANY_KEYS));
            job_init(&jobs[next], next, key, pushed[key]++);
            push(q, &jobs[next]);
        }
        if (pf_keyq_keys(q) > max_keys)
            max_keys = pf_keyq_keys(q);
        /* Start everything that may start. */
        while ((it = pf_keyq_pop_ready(q)) != NULL) {
            j = JOB(it);
            assert_false(busy[j->key]);
            assert_int_equal(j->seq, started[j->key]);
            assert_true(nrunning < MANY_RUNNING);
            busy[j->key] = 1;
            started[j->key]++;
            running[nrunning++] = j;
        }
        assert_int_equal(pf_keyq_running(q), nrunning);
        assert_true(nrunning == MANY_RUNNING || pf_keyq_ready(q) == 0);
        assert_true(pf_keyq_ready(q) <= pf_keyq_keys(q));
        /* Finish a random number of random running jobs. */
        batch = (int)(rnd_next(&seed) % 36);
        for (; batch > 0 && nrunning > 0; batch--) {
            r = rnd_next(&seed) % nrunning;
            j = running[r];
            running[r] = running[--nrunning];
            busy[j->key] = 0;
            pf_keyq_done(q, &j->node);
            done++;
        }
    }
    assert_int_equal(next, MANY_ITEMS);
    for (key = 0; key < MANY_KEYS; key++)
        assert_int_equal(started[key], pushed[key]);
    assert_true(max_keys > MANY_KEYS / 2); /* the bursts filled it */
    assert_int_equal(pf_keyq_queued(q), 0);
    assert_int_equal(pf_keyq_running(q), 0);
    assert_int_equal(pf_keyq_keys(q), 0);
    pf_keyq_destroy(q);
    free(busy);
    free(started);
    free(pushed);
    free(jobs);
}

/* Grows the key table far beyond its start and shrinks it back. */
static void key_table_grows_and_shrinks_with_live_keys(void **state)
{
    enum { N = 20000 };
    pf_keyq *q = pf_keyq_new(N);
    job *jobs = calloc(N, sizeof(*jobs));
    int i;

    (void)state;
    assert_non_null(jobs);
    for (i = 0; i < N; i++) {
        job_init(&jobs[i], i, i, 0);
        push(q, &jobs[i]);
    }
    assert_int_equal(pf_keyq_keys(q), N);
    /* Remove every other key, then check the rest is still found. */
    for (i = 0; i < N; i += 2)
        pf_keyq_remove(q, &jobs[i].node);
    assert_int_equal(pf_keyq_keys(q), N / 2);
    for (i = 1; i < N; i += 2) {
        job extra;
        char key[16];
        int n = snprintf(key, sizeof(key), "k%d", i);

        job_init(&extra, -1, i, 1);
        assert_int_equal(pf_keyq_push(q, key, (size_t)n, &extra.node), 0);
        assert_int_equal(pf_keyq_keys(q), N / 2); /* an existing key */
        pf_keyq_remove(q, &extra.node);
    }
    for (i = 1; i < N; i += 2) {
        assert_int_equal(pop_id(q) % 2, 1);
    }
    assert_int_equal(pop_id(q), -1);
    for (i = 1; i < N; i += 2)
        pf_keyq_done(q, &jobs[i].node);
    assert_int_equal(pf_keyq_keys(q), 0);
    assert_int_equal(pf_keyq_running(q), 0);
    pf_keyq_destroy(q);
    free(jobs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(new_refuses_zero_running),
        cmocka_unit_test(one_key_starts_in_push_order_one_at_a_time),
        cmocka_unit_test(different_keys_run_concurrently),
        cmocka_unit_test(max_running_caps_started_items),
        cmocka_unit_test(items_start_in_the_order_they_became_ready),
        cmocka_unit_test(done_of_an_item_not_running_is_asserted),
        cmocka_unit_test(remove_takes_an_item_out_in_any_state),
        cmocka_unit_test(removing_a_ready_item_keeps_fifo_of_others),
        cmocka_unit_test(push_of_an_item_in_a_queue_or_a_null_key_is_asserted),
        cmocka_unit_test(binary_keys_compare_every_byte),
        cmocka_unit_test(empty_key_is_one_key),
        cmocka_unit_test(remove_if_drops_one_partition),
        cmocka_unit_test(clear_hands_back_every_item),
        cmocka_unit_test(destroy_forgets_items_still_queued),
        cmocka_unit_test(many_keys_keep_order_under_random_completion),
        cmocka_unit_test(key_table_grows_and_shrinks_with_live_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
