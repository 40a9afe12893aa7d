/*
 * jsonmem.h - jansson's allocator: small blocks kept for reuse, per thread.
 *
 * An event's JSON tree is built and freed within one pass of the loop: some
 * 67 allocations of a few sizes each, then as many frees. glibc's per-thread
 * cache keeps 7 blocks of a size; the rest went through its bins, about 95
 * instructions a malloc and as many a free (bench/README.md, "Eighth
 * session"). Here every block jansson frees with room for less than
 * PF_JSONMEM_SMALL + 16 bytes (malloc_usable_size()) is kept on the freeing
 * thread's list for its size class (16, 32, ... 256 bytes), up to
 * PF_JSONMEM_KEEP blocks a class, and handed out again before malloc is
 * asked. The blocks stay ordinary malloc blocks, so text jansson returns
 * (json_dumps()) is still released with free(), and a block freed on
 * another thread than the one that allocated it is simply kept there. A
 * thread's blocks are freed when it ends. At most PF_JSONMEM_KEEP x (16 + 32 +
 * ... + 256) bytes, about 136 KiB, are kept by a thread.
 *
 * Under AddressSanitizer pf_jsonmem_install() does nothing: the sanitizer
 * then sees every jansson allocation and free.
 */
#ifndef PROVFLOW_JSONMEM_H
#define PROVFLOW_JSONMEM_H

#include <stdbool.h>
#include <stddef.h>

#define PF_JSONMEM_SMALL 256 /* larger requests go straight to malloc */
#define PF_JSONMEM_KEEP  64  /* blocks kept per size class and thread */

/* Makes jansson allocate through the lists; a second call does nothing.
 * Call it before the process's first JSON value (one allocated earlier is
 * freed through the lists all the same: it is a malloc block too). Returns
 * whether the lists are used (false under AddressSanitizer). */
bool pf_jsonmem_install(void);

/* The blocks the calling thread keeps, all classes together (tests). */
size_t pf_jsonmem_kept(void);

#endif /* PROVFLOW_JSONMEM_H */
