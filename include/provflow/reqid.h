/*
 * reqid.h - the client-request-id that provflow sends to Graph.
 *
 * It is derived from the event id alone, so every attempt, retry and replay
 * of one event carries the same id: a name-based (version 5, SHA-1) UUID,
 * RFC 9562 section 5.5, of the event id's bytes in the namespace
 * PF_REQID_NAMESPACE. That namespace is itself the version 5 UUID of the
 * name "urn:provflow:client-request-id" in the RFC's URL namespace
 * (6ba7b811-9dad-11d1-80b4-00c04fd430c8). In Python:
 *   ns = uuid.uuid5(uuid.NAMESPACE_URL, "urn:provflow:client-request-id")
 *   uuid.uuid5(ns, event_id)
 */
#ifndef PROVFLOW_REQID_H
#define PROVFLOW_REQID_H

#include <stddef.h>

#define PF_UUID_STR_LEN 36

/* The namespace UUID, as text. */
extern const char PF_REQID_NAMESPACE[];

/* Writes the lower-case UUID for event id `id` (id_len bytes) into out. */
void pf_client_request_id(const char *id, size_t id_len,
                          char out[PF_UUID_STR_LEN + 1]);

/*
 * The version 5 (name-based, SHA-1) UUID of name (len bytes; NULL when
 * len is 0) in the namespace ns, as 16 bytes: the bytes libuuid's
 * uuid_generate_sha1() makes, hashed by OpenSSL's SHA-1. Any thread.
 */
void pf_uuid5(unsigned char out[16], const unsigned char ns[16],
              const char *name, size_t len);

/* u as lower-case 8-4-4-4-12 text, as uuid_unparse_lower() writes it. */
void pf_uuid_unparse(const unsigned char u[16], char out[PF_UUID_STR_LEN + 1]);

/* 1 if s is a GUID in 8-4-4-4-12 hex form (either letter case), else 0. */
int pf_is_guid(const char *s);

#endif /* PROVFLOW_REQID_H */
