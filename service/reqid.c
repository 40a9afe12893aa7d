/* reqid.c - deterministic client-request-id (reqid.h). */
#include "provflow/reqid.h"

#include <ctype.h>
#include <string.h>

/*
 * SHA1_Init/Update/Final are deprecated since OpenSSL 3.0 in favour of
 * EVP, and still shipped. They hash the short names of the ids in 2,300
 * instructions, against 3,400 through EVP (with an algorithm fetched
 * once) and 5,800 in libuuid's uuid_generate_sha1(), which hashes a byte
 * at a time; SHA1(), the one-shot, fetches the algorithm on every call
 * (5,500). Two ids per event.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

const char PF_REQID_NAMESPACE[] = "be22c64f-7b65-5479-83f5-245859bf3cc8";

/* PF_REQID_NAMESPACE as bytes: parsing the text for every event cost
 * 2,200 instructions (uuid_parse's strtoul per byte). */
static const unsigned char reqid_ns[16] = {0xbe, 0x22, 0xc6, 0x4f, 0x7b, 0x65,
                                           0x54, 0x79, 0x83, 0xf5, 0x24, 0x58,
                                           0x59, 0xbf, 0x3c, 0xc8};

void pf_uuid5(unsigned char out[16], const unsigned char ns[16],
              const char *name, size_t len)
{
    SHA_CTX c;
    unsigned char d[SHA_DIGEST_LENGTH];

    /* RFC 9562 section 5.5, as libuuid does it: SHA-1 of the namespace's
     * bytes and the name's, the first 16 bytes, version and variant. */
    SHA1_Init(&c);
    SHA1_Update(&c, ns, 16);
    SHA1_Update(&c, name, len);
    SHA1_Final(d, &c);
    memcpy(out, d, 16);
    out[6] = (unsigned char)((out[6] & 0x0f) | 0x50);
    out[8] = (unsigned char)((out[8] & 0x3f) | 0x80);
}

void pf_uuid_unparse(const unsigned char u[16], char out[PF_UUID_STR_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    size_t i;
    char *s = out;

    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *s++ = '-';
        *s++ = hex[u[i] >> 4];
        *s++ = hex[u[i] & 0xf];
    }
    *s = '\0';
}

void pf_client_request_id(const char *id, size_t id_len,
                          char out[PF_UUID_STR_LEN + 1])
{
    unsigned char u[16];

    pf_uuid5(u, reqid_ns, id, id_len);
    pf_uuid_unparse(u, out);
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
