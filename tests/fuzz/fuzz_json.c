/*
 * fuzz_json.c - libFuzzer entry point over the readers of json.h:
 * pf_json_parse(), which parses every event, and pf_jsonw_text(), which
 * copies Graph's 201 answer into the outcome record without a tree.
 *
 * The whole input is the text. Beyond the sanitizers, each run checks the
 * contract of json.h against jansson, differentially:
 * - pf_json_parse() gives what json_loadb() gives, with and without
 *   JSON_REJECT_DUPLICATES: both NULL (with the same error text) or equal
 *   values;
 * - what pf_jsonw_text() accepts, jansson accepts too (it may refuse more,
 *   never less: refused text goes to jansson anyway);
 * - its copy parses, and is the value jansson read with every "password"
 *   member masked (pf_json_mask_secrets());
 * - the id it returns is the object's top-level "id" string ("" when that
 *   is absent or not a string);
 * - refused, the writer is left exactly as it was.
 * A broken contract aborts, which libFuzzer reports as a crash.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "provflow/json.h"
#include "provflow/transform.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void parse_as_jansson(const char *text, size_t size, size_t flags)
{
    json_error_t e1, e2;
    json_t *a = pf_json_parse(text, size, flags, &e1);
    json_t *b = json_loadb(text, size, flags, &e2);

    if ((a == NULL) != (b == NULL))
        abort();
    if (a == NULL && strcmp(e1.text, e2.text) != 0)
        abort();
    if (a != NULL && !json_equal(a, b))
        abort();
    json_decref(a);
    json_decref(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    json_t *in, *out;
    const json_t *id_value;
    char id[64], *copy;
    pf_jsonw w;

    parse_as_jansson(text, size, 0);
    parse_as_jansson(text, size, JSON_REJECT_DUPLICATES);
    pf_jsonw_init(&w, 8);
    pf_jsonw_open(&w, '[');
    if (pf_jsonw_text(&w, text, size, PF_JSONW_MASK_SECRETS, id, sizeof(id)) !=
        0) {
        if (w.len != 1 || id[0] != '\0')
            abort();
        pf_jsonw_release(&w);
        return 0;
    }
    pf_jsonw_close(&w, ']');
    copy = pf_jsonw_finish(&w, NULL);
    if (copy == NULL)
        return 0; /* out of memory */
    in = json_loadb(text, size, 0, NULL);
    out = json_loads(copy, 0, NULL);
    if (in == NULL || out == NULL || !json_is_object(in))
        abort();
    pf_json_mask_secrets(in);
    if (!json_equal(in, json_array_get(out, 0)))
        abort();
    id_value = json_object_get(in, "id");
    if (strcmp(id, json_is_string(id_value) ? json_string_value(id_value)
                                            : "") != 0)
        abort();
    json_decref(in);
    json_decref(out);
    free(copy);
    return 0;
}
