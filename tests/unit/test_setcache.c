/*
 * test_setcache.c - a set's listed flows are reused for ttl_ms, never when
 * listed before the caller's "since", and a create is added to them.
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
    pf_setcache_add(c, "k", flow); /* no entry: nothing */
    assert_null(pf_setcache_get(c, "k", 0, 0));
    assert_false(pf_setcache_has(c, "k"));
    assert_int_equal(pf_setcache_put(c, "k", flows, 0), 0);
    assert_true(pf_setcache_has(c, "k"));
    assert_false(pf_setcache_has(c, "k2"));
    pf_setcache_add(c, "k", flow);
    got = pf_setcache_get(c, "k", 1, 0);
    assert_int_equal(json_array_size(got), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(got, 0), "id")),
        "new");
    assert_int_equal(json_array_size(flows), 0); /* the caller's: untouched */
    pf_setcache_forget(c, "k");
    assert_null(pf_setcache_get(c, "k", 1, 0));
    assert_false(pf_setcache_has(c, "k"));
    json_decref(flows);
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
        cmocka_unit_test(the_oldest_goes_first_when_full),
        cmocka_unit_test(ttl_zero_keeps_nothing_and_bad_input_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
