/*
 * test_procstat.c - the process_* figures (procstat.h): /proc/<pid>/stat
 * and /proc/stat parsed from text, the odd cases included, and read from
 * this very process.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "provflow/procstat.h"

/*
 * A stat line as proc(5) writes it: utime 250, stime 150 ticks,
 * starttime 12000 ticks, vsize 3133440, rss 412 pages. comm is given.
 */
#define STAT_LINE(comm)                                                        \
    "9537 (" comm ") R 9533 9533 15422 0 -1 4194304 99 0 0 0 250 150 0 0 "     \
    "20 0 1 0 12000 3133440 412 18446744073709551615 94343570468864 "          \
    "94343570488745 140729896334608 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"

static void stat_fields_become_seconds_and_bytes(void **state)
{
    static const char *const lines[] = {
        STAT_LINE("provflow"),
        /* The name may hold spaces and parentheses: the last ')' ends it. */
        STAT_LINE("a) R 1 2 (b"),
        STAT_LINE(") 0 0 0 0 0 0 0 0 0 0 0 0 9 9 9 9 9 9 9 9 9 9 ("),
        STAT_LINE(""),
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        pf_procstat ps = {0};
        char err[128] = "";

        assert_int_equal(pf_procstat_parse_stat(lines[i], 100, 4096, 1700000000,
                                                &ps, err, sizeof(err)),
                         0);
        assert_true(ps.cpu_seconds == 4.0);                 /* 400 / 100 */
        assert_true(ps.start_time_seconds == 1700000120.0); /* + 12000 */
        assert_true(ps.virtual_bytes == 3133440.0);
        assert_true(ps.resident_bytes == 412.0 * 4096);
    }
}

static void a_stat_that_is_not_one_is_refused(void **state)
{
    static const struct {
        const char *text;
        const char *why;
    } cases[] = {
        {"", "no command name"},
        {"9537 provflow R 1 2 3", "no command name"},
        {"9537 (provflow)", "field 3"},
        {"9537 (provflow) R 9533 9533 15422 0 -1 4194304 99 0 0 0 250",
         "field 15"},
        {"9537 (provflow) R 9533 9533 15422 0 -1 4194304 99 0 0 0 x 150",
         "field 14"},
        {"9537 (provflow) R 9533 9533 15422 0 -1 4194304 99 0 0 0 250 150 0 "
         "0 20 0 1 0 12000 3133440 -412 0\n",
         "field 24"},
        {"9537 (provflow) R 9533 9533 15422 0 -1 4194304 99 0 0 0 250 150 0 "
         "0 20 0 1 0 12000 99999999999999999999999 412 0\n",
         "field 23"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pf_procstat ps = {0};
        char err[128] = "";

        assert_int_equal(pf_procstat_parse_stat(cases[i].text, 100, 4096, 0,
                                                &ps, err, sizeof(err)),
                         -1);
        if (strstr(err, cases[i].why) == NULL)
            fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err,
                     cases[i].why);
    }
}

static void btime_is_found_on_its_own_line(void **state)
{
    double bt = 0;
    char err[128];

    (void)state;
    assert_int_equal(pf_procstat_parse_btime("cpu  1 2 3\nintr 5 btime 9\n"
                                             "btime 1764800000\nprocesses 3\n",
                                             &bt, err, sizeof(err)),
                     0);
    assert_true(bt == 1764800000.0);
    assert_int_equal(
        pf_procstat_parse_btime("cpu 1\nctxt 2\n", &bt, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "btime"));
    assert_int_equal(
        pf_procstat_parse_btime("btime soon\n", &bt, err, sizeof(err)), -1);
}

/* This process, read live: figures within what it can be. */
static void this_process_reads_back(void **state)
{
    pf_procstat ps = {0};
    struct rlimit rl;
    char err[160];

    (void)state;
    if (access("/proc/self/stat", R_OK) != 0)
        skip();
    assert_int_equal(pf_procstat_read(&ps, err, sizeof(err)), 0);
    assert_true(ps.cpu_seconds >= 0);
    assert_true(ps.resident_bytes > 0);
    assert_true(ps.virtual_bytes >= ps.resident_bytes);
    assert_true(ps.start_time_seconds > 1e9);
    assert_true(ps.start_time_seconds <= (double)time(NULL) + 1);
    assert_true(ps.open_fds >= 3);
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    assert_true(ps.max_fds == (double)rl.rlim_cur);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stat_fields_become_seconds_and_bytes),
        cmocka_unit_test(a_stat_that_is_not_one_is_refused),
        cmocka_unit_test(btime_is_found_on_its_own_line),
        cmocka_unit_test(this_process_reads_back),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
