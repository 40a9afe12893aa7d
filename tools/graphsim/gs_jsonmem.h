/*
 * gs_jsonmem.h - jansson's allocator in the simulator: a bump arena per
 * thread, emptied after each request.
 *
 * Every JSON tree the simulator builds lives within one call of the request
 * handler (parse, validate, answer, free), so an arena that is reset when
 * the handler returns replaces dozens of malloc/free pairs per request with
 * pointer bumps. Allocations that do not fit fall back to malloc. Text
 * handed to others is never allocated by jansson (gs_buf_add_json).
 *
 * Under AddressSanitizer gs_jsonmem_install() does nothing, so that the
 * sanitizer sees every jansson allocation.
 */
#ifndef GRAPHSIM_JSONMEM_H
#define GRAPHSIM_JSONMEM_H

/* Makes jansson allocate from the arenas. Call once, before any other
 * jansson use (the process's first JSON value). */
void gs_jsonmem_install(void);

/* Empties the calling thread's arena. Only when no JSON value allocated by
 * this thread since the last reset is still alive. */
void gs_jsonmem_reset(void);

#endif /* GRAPHSIM_JSONMEM_H */
