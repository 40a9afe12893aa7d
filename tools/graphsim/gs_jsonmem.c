/* gs_jsonmem.c - per-thread arenas for jansson (gs_jsonmem.h). */
#include "gs_jsonmem.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "provflow/sanitize.h"

#ifndef PF_UNDER_ASAN

#define ARENA_SIZE (256 * 1024)
/* Each block starts with a tag saying where it came from; 16 bytes keep
 * the payload aligned for any type. */
#define HDR       16
#define TAG_ARENA 0x4152454e41ULL
#define TAG_HEAP  0x48454150ULL

struct arena {
    size_t used;
    _Alignas(16) char mem[ARENA_SIZE];
};

static pthread_key_t arena_key;
static pthread_once_t arena_once = PTHREAD_ONCE_INIT;
static bool arena_key_ok;
static __thread struct arena *arena;
static __thread bool arena_failed;

static void arena_free_at_exit(void *p)
{
    free(p);
}

static void make_key(void)
{
    arena_key_ok = pthread_key_create(&arena_key, arena_free_at_exit) == 0;
}

static struct arena *my_arena(void)
{
    if (arena || arena_failed)
        return arena;
    pthread_once(&arena_once, make_key);
    arena = arena_key_ok ? malloc(sizeof(*arena)) : NULL;
    if (!arena || pthread_setspecific(arena_key, arena) != 0) {
        free(arena);
        arena = NULL;
        arena_failed = true; /* plain malloc for this thread */
        return NULL;
    }
    arena->used = 0;
    return arena;
}

static void *jm_malloc(size_t n)
{
    struct arena *a = my_arena();
    size_t need;
    char *p;

    if (n > SIZE_MAX - HDR - 15)
        return NULL;
    need = (n + HDR + 15) & ~(size_t)15;
    if (a && need <= ARENA_SIZE - a->used) {
        p = a->mem + a->used;
        a->used += need;
        *(uint64_t *)p = TAG_ARENA;
    } else {
        p = malloc(n + HDR);
        if (!p)
            return NULL;
        *(uint64_t *)p = TAG_HEAP;
    }
    return p + HDR;
}

static void jm_free(void *ptr)
{
    char *p;

    if (!ptr)
        return;
    p = (char *)ptr - HDR;
    /* Arena blocks go when the arena is reset. */
    if (*(uint64_t *)p == TAG_HEAP)
        free(p);
}

void gs_jsonmem_install(void)
{
    json_set_alloc_funcs(jm_malloc, jm_free);
}

void gs_jsonmem_reset(void)
{
    if (arena)
        arena->used = 0;
}

#else /* PF_UNDER_ASAN: jansson keeps malloc, which the sanitizer watches */

void gs_jsonmem_install(void)
{
}

void gs_jsonmem_reset(void)
{
}

#endif
