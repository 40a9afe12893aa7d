/* test_reqid.c - the deterministic client-request-id and the GUID check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <uuid/uuid.h>

#include "provflow/reqid.h"

/* Expected values computed independently with Python's uuid.uuid5. */
static void client_request_id_is_uuid5_of_the_event_id(void **state)
{
    static const struct {
        const char *id, *uuid;
    } rows[] = {
        {"seed-0", "3728211e-0b52-52d4-9d9a-abe719a20b73"},
        {"req-1", "df476dac-c36a-564d-ae55-980e7ee093f1"},
    };
    char out[PF_UUID_STR_LEN + 1];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        pf_client_request_id(rows[i].id, strlen(rows[i].id), out);
        assert_string_equal(out, rows[i].uuid);
    }
}

static void namespace_is_uuid5_of_the_documented_name(void **state)
{
    /* uuid5(NAMESPACE_URL, "urn:provflow:client-request-id") */
    (void)state;
    assert_string_equal(PF_REQID_NAMESPACE,
                        "be22c64f-7b65-5479-83f5-245859bf3cc8");
}

/* The namespace is kept as bytes too: they must be the text's. */
static void the_id_is_uuid5_in_the_namespace_as_written(void **state)
{
    static const char id[] = "bench-0042";
    char want[PF_UUID_STR_LEN + 1], out[PF_UUID_STR_LEN + 1];
    uuid_t ns, u;

    (void)state;
    assert_int_equal(uuid_parse(PF_REQID_NAMESPACE, ns), 0);
    uuid_generate_sha1(u, ns, id, strlen(id));
    uuid_unparse_lower(u, want);
    pf_client_request_id(id, strlen(id), out);
    assert_string_equal(out, want);
}

/*
 * pf_uuid5() hashes with OpenSSL: its bytes must be libuuid's, for names
 * around SHA-1's 64-byte blocks (the namespace takes the first 16) and in
 * the outcomes' namespace too; the text as uuid_unparse_lower() writes it.
 */
static void uuid5_is_libuuids_for_every_length(void **state)
{
    static const unsigned char outcome_ns[16] = {
        0x3c, 0x4c, 0x39, 0x72, 0xaf, 0x6b, 0x57, 0xfb,
        0xb5, 0x36, 0x0b, 0xea, 0x77, 0x5b, 0x9e, 0x15};
    char name[300], want[PF_UUID_STR_LEN + 1], out[PF_UUID_STR_LEN + 1];
    uuid_t ns[2], u;
    unsigned char mine[16];
    size_t len, i, k;

    (void)state;
    assert_int_equal(uuid_parse(PF_REQID_NAMESPACE, ns[0]), 0);
    memcpy(ns[1], outcome_ns, 16);
    for (i = 0; i < sizeof(name); i++)
        name[i] = (char)(' ' + (i * 7 + 3) % 95);
    name[5] = (char)0xC3; /* bytes, not text: anything goes */
    for (k = 0; k < 2; k++) {
        for (len = 0; len < sizeof(name); len++) {
            uuid_generate_sha1(u, ns[k], name, len);
            pf_uuid5(mine, ns[k], name, len);
            assert_memory_equal(mine, u, 16);
            uuid_unparse_lower(u, want);
            pf_uuid_unparse(mine, out);
            assert_string_equal(out, want);
        }
    }
    pf_client_request_id("", 0, out);
    uuid_generate_sha1(u, ns[0], "", 0);
    uuid_unparse_lower(u, want);
    assert_string_equal(out, want);
}

static void guid_check_wants_8_4_4_4_12_hex(void **state)
{
    (void)state;
    assert_true(pf_is_guid("9ab41255-5364-4c53-e15c-08dc4ab6ee03"));
    assert_true(pf_is_guid("9AB41255-5364-4C53-E15C-08DC4AB6EE03"));
    assert_false(pf_is_guid("{9ab41255-5364-4c53-e15c-08dc4ab6ee03}"));
    assert_false(pf_is_guid("9ab412555364-4c53-e15c-08dc4ab6ee03"));
    assert_false(pf_is_guid("9ab41255-5364-4c53-e15c-08dc4ab6ee0"));
    assert_false(pf_is_guid("9ab41255-5364-4c53-e15c-08dc4ab6ee033"));
    assert_false(pf_is_guid("9ab4125g-5364-4c53-e15c-08dc4ab6ee03"));
    assert_false(pf_is_guid(""));
    assert_false(pf_is_guid(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(client_request_id_is_uuid5_of_the_event_id),
        cmocka_unit_test(namespace_is_uuid5_of_the_documented_name),
        cmocka_unit_test(the_id_is_uuid5_in_the_namespace_as_written),
        cmocka_unit_test(uuid5_is_libuuids_for_every_length),
        cmocka_unit_test(guid_check_wants_8_4_4_4_12_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
