/* sg_test.h — shared helpers for the cmocka tests. */
#ifndef SG_TEST_H
#define SG_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/core/sg_graph.h"
#include "graph/gradcheck/sg_gradcheck.h"
#include "graph/core/sg_param.h"
#include "graph/core/sg_rng.h"
#include "ops/sg_op_table.h"
#include "ops/sg_ops.h"

/* Fails the test with the graph's error message if the graph is in error. */
#define SG_ASSERT_GRAPH_OK(g)                                                                                          \
    do {                                                                                                               \
        if (sg_graph_status(g) != SG_OK)                                                                               \
            fail_msg("graph error: %s", sg_graph_error(g));                                                            \
    } while (0)

#define SG_ASSERT_NEAR(a, b, tol)                                                                                      \
    do {                                                                                                               \
        double sg_a_ = (a), sg_b_ = (b);                                                                               \
        if (!(fabs(sg_a_ - sg_b_) <= (tol)))                                                                           \
            fail_msg("%s = %.17g, expected %.17g (tol %g)", #a, sg_a_, sg_b_, (double)(tol));                          \
    } while (0)

/* Whether msg contains needle, printing both when not. */
static inline int sg_contains(const char *msg, const char *needle)
{
    if (strstr(msg, needle))
        return 1;
    print_error("'%s' not found in '%s'\n", needle, msg);
    return 0;
}

/* The whole file at path (the test fails if it cannot be read); *len its
 * size.  The caller frees the buffer (one byte past the end is allocated). */
static inline unsigned char *sg_test_read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

#endif
