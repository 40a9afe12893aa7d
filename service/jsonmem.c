/* jsonmem.c - jansson's small blocks kept for reuse, per thread (jsonmem.h). */
#include "provflow/jsonmem.h"

#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>

#include <jansson.h>

#include "provflow/sanitize.h"

#define CLASS_BYTES 16
#define CLASSES     (PF_JSONMEM_SMALL / CLASS_BYTES)

/* A kept block: its first bytes link it to the next of its class. */
typedef struct kept {
    struct kept *next;
} kept;

/* Class c (1..CLASSES) holds blocks with room for c x 16 bytes at least. */
typedef struct cache {
    kept *head[CLASSES + 1];
    unsigned count[CLASSES + 1];
    bool registered; /* freed at the thread's end */
    bool unregistered;
} cache;

static __thread cache my;

#ifndef PF_UNDER_ASAN

static pthread_key_t end_key;
static bool end_key_ok;

static void drop_all(void *arg)
{
    cache *c = arg;
    size_t i;

    for (i = 1; i <= CLASSES; i++) {
        while (c->head[i] != NULL) {
            kept *k = c->head[i];

            c->head[i] = k->next;
            free(k);
        }
        c->count[i] = 0;
    }
    c->registered = false; /* a later free registers again */
}

/* Whether the calling thread may keep blocks: only once its end is known
 * to free them. */
static bool may_keep(void)
{
    if (my.registered)
        return true;
    if (my.unregistered || !end_key_ok)
        return false;
    if (pthread_setspecific(end_key, &my) != 0) {
        my.unregistered = true;
        return false;
    }
    my.registered = true;
    return true;
}

static void *take(size_t n)
{
    size_t c = n == 0 ? 1 : (n + CLASS_BYTES - 1) / CLASS_BYTES;
    kept *k;

    if (c > CLASSES)
        return malloc(n);
    k = my.head[c];
    if (k != NULL) {
        my.head[c] = k->next;
        my.count[c]--;
        return k;
    }
    /* Exactly the class's size: glibc then reports it as this class. */
    return malloc(c * CLASS_BYTES);
}

static void give(void *p)
{
    size_t c;
    kept *k = p;

    if (p == NULL)
        return;
    c = malloc_usable_size(p) / CLASS_BYTES;
    if (c == 0 || c > CLASSES || my.count[c] >= PF_JSONMEM_KEEP ||
        !may_keep()) {
        free(p);
        return;
    }
    k->next = my.head[c];
    my.head[c] = k;
    my.count[c]++;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void install(void)
{
    end_key_ok = pthread_key_create(&end_key, drop_all) == 0;
    json_set_alloc_funcs(take, give);
}

bool pf_jsonmem_install(void)
{
    pthread_once(&once, install);
    return true;
}

#else /* PF_UNDER_ASAN: jansson keeps malloc, which the sanitizer watches */

bool pf_jsonmem_install(void)
{
    return false;
}

#endif

size_t pf_jsonmem_kept(void)
{
    size_t i, n = 0;

    for (i = 1; i <= CLASSES; i++)
        n += my.count[i];
    return n;
}
