/* sg_clones.h — SG_CLONES: compile a hot loop twice, for the baseline x86-64
 * (SSE2) and for AVX2, and pick one when the program loads (GCC/clang
 * target_clones, resolved by a glibc ifunc).  The AVX2 copy has twice the
 * lanes, e.g. for the polynomial sigmoid and tanh of the f32 kernels.
 *
 * AVX2 without FMA: each element goes through the same operations in the same
 * order on either path (and the build is C11, which contracts nothing into an
 * FMA), so the same bytes come out whichever copy runs.  Off elsewhere, under
 * ThreadSanitizer, or when built with -DSG_NO_CLONES.
 */
#ifndef SG_CLONES_H
#define SG_CLONES_H

/* ThreadSanitizer's runtime is not up yet when the loader runs the ifunc
 * resolvers, and crashes there: no clones under it. */
#if defined(__SANITIZE_THREAD__)
#define SG_NO_CLONES_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SG_NO_CLONES_TSAN 1
#endif
#endif

#if defined(__x86_64__) && defined(__has_attribute) && !defined(SG_NO_CLONES) && !defined(SG_NO_CLONES_TSAN)
#if __has_attribute(target_clones)
#define SG_CLONES __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef SG_CLONES
#define SG_CLONES
#endif

/* For the small helpers of a cloned function: inlined into each copy, so the
 * AVX2 copy runs them with AVX2 too (a call would reach the baseline code). */
#if defined(__GNUC__)
#define SG_ALWAYS_INLINE __attribute__((always_inline))
#else
#define SG_ALWAYS_INLINE
#endif

#endif
