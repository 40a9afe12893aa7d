/*
 * test_jsonmem.c - jansson's small blocks: a freed block of a size class is
 * handed out again for any size of its class, each class keeps at most
 * PF_JSONMEM_KEEP blocks a thread, larger blocks are not kept, a block freed
 * on another thread is kept there, and jansson reads and writes the same
 * through the lists (its text still released with free()). Under
 * AddressSanitizer the lists are off and only the last test applies.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "provflow/jsonmem.h"

static bool pooling;
static json_malloc_t jm;
static json_free_t jf;

static int setup(void **state)
{
    (void)state;
    pooling = pf_jsonmem_install();
    json_get_alloc_funcs(&jm, &jf);
    return 0;
}

static void a_freed_block_serves_any_size_of_its_class(void **state)
{
    void *p, *q;

    (void)state;
    if (!pooling)
        skip();
    p = jm(40); /* class 48 */
    assert_non_null(p);
    jf(p);
    q = jm(33); /* class 48 too */
    assert_ptr_equal(q, p);
    jf(q);
    q = jm(49); /* class 64: another block */
    assert_ptr_not_equal(q, p);
    jf(q);
}

static void a_class_keeps_at_most_its_share(void **state)
{
    void *blocks[PF_JSONMEM_KEEP + 10];
    size_t i, before;

    (void)state;
    if (!pooling)
        skip();
    for (i = 0; i < PF_JSONMEM_KEEP + 10; i++) {
        blocks[i] = jm(200);
        assert_non_null(blocks[i]);
    }
    before = pf_jsonmem_kept();
    for (i = 0; i < PF_JSONMEM_KEEP + 10; i++)
        jf(blocks[i]);
    assert_int_equal(pf_jsonmem_kept() - before, PF_JSONMEM_KEEP);
}

static void large_blocks_are_not_kept(void **state)
{
    size_t before = pf_jsonmem_kept();
    void *p;

    (void)state;
    if (!pooling)
        skip();
    p = jm(PF_JSONMEM_SMALL + 64); /* past the last class */
    assert_non_null(p);
    jf(p);
    assert_int_equal(pf_jsonmem_kept(), before);
    jf(NULL); /* as free(NULL) */
    assert_int_equal(pf_jsonmem_kept(), before);
}

struct handoff {
    void *block; /* allocated here, freed there */
    size_t kept; /* the other thread's count after the free */
};

static void *free_here(void *arg)
{
    struct handoff *h = arg;

    jf(h->block);
    h->kept = pf_jsonmem_kept();
    return NULL;
}

static void a_block_freed_on_another_thread_is_kept_there(void **state)
{
    struct handoff h = {NULL, 0};
    size_t before = pf_jsonmem_kept();
    pthread_t t;

    (void)state;
    if (!pooling)
        skip();
    h.block = jm(24);
    assert_non_null(h.block);
    assert_int_equal(pthread_create(&t, NULL, free_here, &h), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(h.kept, 1);                 /* the thread's list */
    assert_int_equal(pf_jsonmem_kept(), before); /* not this one's */
}

static void jansson_reads_and_writes_the_same(void **state)
{
    static const char doc[] =
        "{\"id\":\"x-1\",\"data\":{\"flowSetId\":\"a\",\"n\":[1,2.5,true,"
        "null,\"q\\\"\"],\"o\":{\"k\":{}}},\"s\":\"" /* then a long one */
        "0123456789012345678901234567890123456789012345678901234567890123456"
        "7890123456789012345678901234567890123456789012345678901234567890123"
        "4567890123456789012345678901234567890123456789012345678901234567890"
        "1234567890\"}";
    int round;

    (void)state;
    for (round = 0; round < 3; round++) { /* the later rounds reuse blocks */
        json_error_t err;
        json_t *v = json_loads(doc, JSON_REJECT_DUPLICATES, &err);
        char *text;

        assert_non_null(v);
        text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
        assert_non_null(text);
        assert_string_equal(text, doc);
        free(text); /* jansson's text is a malloc block */
        json_decref(v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_freed_block_serves_any_size_of_its_class),
        cmocka_unit_test(a_class_keeps_at_most_its_share),
        cmocka_unit_test(large_blocks_are_not_kept),
        cmocka_unit_test(a_block_freed_on_another_thread_is_kept_there),
        cmocka_unit_test(jansson_reads_and_writes_the_same),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
