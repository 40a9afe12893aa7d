/*
 * sanitize.h - PF_UNDER_ASAN is defined in a build under AddressSanitizer
 * (gcc says so with __SANITIZE_ADDRESS__, clang with __has_feature). Code
 * that recycles memory itself steps aside there, so that the sanitizer sees
 * every allocation and free.
 */
#ifndef PROVFLOW_SANITIZE_H
#define PROVFLOW_SANITIZE_H

#if defined(__SANITIZE_ADDRESS__)
#define PF_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PF_UNDER_ASAN 1
#endif
#endif

#endif /* PROVFLOW_SANITIZE_H */
