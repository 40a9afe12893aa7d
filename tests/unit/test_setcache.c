/*
 * test_setcache.c - a set's listed flows are reused for ttl_ms, never when
 * listed before the caller's "since", and a create is added to them; a
 * list sent before a change the cache knows of is not kept.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "provflow/setcache.h"

static json_t *flows_of(const char *type)
{
    return json_pack("[{s:s,s:s}]", "@odata.type", type, "id", "f1");
}

static void an_answer_is_reused_until_its_ttl(void **state)
{
    pf_setcache *c = pf_setcache_new(1000, 16);
    json_t *flows = flows_of("#microsoft.graph.industryData.user");
    const json_t *got;

    (void)state;
    assert_null(pf_setcache_get(c, "t S1", 0, 0));
    assert_int_equal(pf_setcache_put(c, "t S1", flows, 100), 0);
    got = pf_setcache_get(c, "t S1", 500, 0);
    assert_non_null(got);
    assert_true(json_equal((json_t *)got, flows)); /* a copy, equal */
    assert_ptr_not_equal(got, flows);
    assert_null(pf_setcache_get(c, "t S2", 500, 0));
    assert_null(pf_setcache_get(c, "other S1", 500, 0));
    assert_non_null(pf_setcache_get(c, "t S1", 1099, 0));
    assert_null(pf_setcache_get(c, "t S1", 1100, 0)); /* expired */
    assert_int_equal(pf_setcache_size(c), 0);         /* and purged */
    json_decref(flows);
    pf_setcache_destroy(c);
}

static void an_answer_older_than_since_is_not_used(void **state)
{
    pf_setcache *c = pf_setcache_new(1000, 16);
    json_t *flows = json_array();

    (void)state;
    assert_int_equal(pf_setcache_put(c, "k", flows, 100), 0);
    assert_non_null(pf_setcache_get(c, "k", 200, 100));
    assert_null(pf_setcache_get(c, "k", 200, 101));
    json_decref(flows);
    pf_setcache_destroy(c);
}

static void a_created_flow_is_added_and_forget_drops(void **state)
{
    pf_setcache *c = pf_setcache_new(1000, 16);
    json_t *flows = json_array(), *flow = json_pack("{s:s}", "id", "new");
    const json_t *got;

    (void)state;
    pf_setcache_add(c, "k", flow, 0); /* no entry: nothing */
    assert_null(pf_setcache_get(c, "k", 0, 0));
    assert_false(pf_setcache_has(c, "k"));
    assert_int_equal(pf_setcache_put(c, "k", flows, 0), 0);
    assert_true(pf_setcache_has(c, "k"));
    assert_false(pf_setcache_has(c, "k2"));
    pf_setcache_add(c, "k", flow, 1);
    got = pf_setcache_get(c, "k", 1, 0);
    assert_int_equal(json_array_size(got), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(got, 0), "id")),
        "new");
    assert_int_equal(json_array_size(flows), 0); /* the caller's: untouched */
    pf_setcache_forget(c, "k", 1);
    assert_null(pf_setcache_get(c, "k", 1, 0));
    assert_false(pf_setcache_has(c, "k"));
    json_decref(flows);
    json_decref(flow);
    pf_setcache_destroy(c);
}

/*
 * A list answered late, after a create the cache was told of, was sent
 * before the create landed: kept, it would hide the new flow. Nor does
 * a list replace a later one, nor survive a forget it was sent before.
 */
static void a_list_sent_before_a_change_is_not_kept(void **state)
{
    pf_setcache *c = pf_setcache_new(1000, 16);
    json_t *empty = json_array(), *flow = json_pack("{s:s}", "id", "new");
    json_t *one = json_pack("[O]", flow);

    (void)state;
    assert_int_equal(pf_setcache_put(c, "k", empty, 100), 0);
    pf_setcache_add(c, "k", flow, 200);
    assert_int_equal(pf_setcache_put(c, "k", empty, 150), 0); /* sent at 150 */
    assert_int_equal(json_array_size(pf_setcache_get(c, "k", 250, 0)), 1);
    /* Sent in the create's millisecond: maybe before it landed. */
    assert_int_equal(pf_setcache_put(c, "k", empty, 200), 0);
    assert_int_equal(json_array_size(pf_setcache_get(c, "k", 250, 0)), 1);
    /* Sent after the create: what Graph held then. */
    assert_int_equal(pf_setcache_put(c, "k", empty, 300), 0);
    assert_int_equal(json_array_size(pf_setcache_get(c, "k", 310, 0)), 0);
    /* A later list is not replaced by an earlier one. */
    assert_int_equal(pf_setcache_put(c, "k", one, 400), 0);
    assert_int_equal(pf_setcache_put(c, "k", empty, 350), 0);
    assert_int_equal(json_array_size(pf_setcache_get(c, "k", 410, 0)), 1);
    /* Forgotten at 500: a list sent before is not kept, one after is. */
    pf_setcache_forget(c, "k", 500);
    assert_int_equal(pf_setcache_put(c, "k", one, 450), 0);
    assert_int_equal(pf_setcache_put(c, "k", one, 500), 0);
    assert_null(pf_setcache_get(c, "k", 600, 0));
    assert_int_equal(pf_setcache_size(c), 1); /* the change, remembered */
    assert_int_equal(pf_setcache_put(c, "k", empty, 501), 0);
    assert_int_equal(json_array_size(pf_setcache_get(c, "k", 600, 0)), 0);
    /* The change is remembered for ttl_ms: by then a list sent before
     * it is too old to be used anyway. */
    pf_setcache_forget(c, "k", 2000);
    assert_int_equal(pf_setcache_put(c, "k", one, 1999), 0);
    assert_null(pf_setcache_get(c, "k", 2999, 0));
    assert_int_equal(pf_setcache_put(c, "k", one, 1999), 0);
    assert_null(pf_setcache_get(c, "k", 3001, 0));
    assert_int_equal(pf_setcache_size(c), 0);
    assert_int_equal(pf_setcache_put(c, "k", one, 1999), 0); /* too old */
    assert_null(pf_setcache_get(c, "k", 3002, 0));
    json_decref(empty);
    json_decref(one);
    json_decref(flow);
    pf_setcache_destroy(c);
}

static void the_oldest_goes_first_when_full(void **state)
{
    pf_setcache *c = pf_setcache_new(1000000, 100);
    json_t *flows = json_array();
    char key[32];
    int i;

    (void)state;
    for (i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "set-%d", i);
        assert_int_equal(pf_setcache_put(c, key, flows, i), 0);
        assert_true(pf_setcache_size(c) <= 100);
    }
    assert_null(pf_setcache_get(c, "set-899", 1000, 0));
    assert_non_null(pf_setcache_get(c, "set-900", 1000, 0));
    assert_non_null(pf_setcache_get(c, "set-999", 1000, 0));
    /* A put replaces: the size stays. */
    assert_int_equal(pf_setcache_put(c, "set-999", flows, 1000), 0);
    assert_int_equal(pf_setcache_size(c), 100);
    json_decref(flows);
    pf_setcache_destroy(c);
}

static void ttl_zero_keeps_nothing_and_bad_input_is_refused(void **state)
{
    pf_setcache *c = pf_setcache_new(0, 16);
    json_t *flows = json_array(), *obj = json_object();

    (void)state;
    assert_int_equal(pf_setcache_put(c, "k", flows, 0), 0);
    assert_null(pf_setcache_get(c, "k", 0, 0));
    pf_setcache_destroy(c);
    c = pf_setcache_new(1000, 16);
    assert_int_equal(pf_setcache_put(c, "k", obj, 0), 0); /* not an array */
    assert_null(pf_setcache_get(c, "k", 0, 0));
    json_decref(flows);
    json_decref(obj);
    pf_setcache_destroy(c);
    pf_setcache_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_answer_is_reused_until_its_ttl),
        cmocka_unit_test(an_answer_older_than_since_is_not_used),
        cmocka_unit_test(a_created_flow_is_added_and_forget_drops),
        cmocka_unit_test(a_list_sent_before_a_change_is_not_kept),
        cmocka_unit_test(the_oldest_goes_first_when_full),
        cmocka_unit_test(ttl_zero_keeps_nothing_and_bad_input_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
