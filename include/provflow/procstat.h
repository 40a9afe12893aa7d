/*
 * procstat.h - the process's own resource figures, as the Prometheus
 * client libraries export them under process_* (client_golang's process
 * collector, client_python's ProcessCollector):
 *
 *   process_cpu_seconds_total      (utime + stime) / ticks, /proc/self/stat
 *   process_resident_memory_bytes  rss pages * page size, /proc/self/stat
 *   process_virtual_memory_bytes   vsize, /proc/self/stat
 *   process_start_time_seconds     btime (/proc/stat) + starttime / ticks
 *   process_open_fds               entries of /proc/self/fd (less the
 *                                  one the listing itself opens)
 *   process_max_fds                getrlimit(RLIMIT_NOFILE), soft limit
 *
 * Linux only. The parsers are pure (text in, numbers out) so that the
 * unit tests feed them the odd cases: a command name with spaces and
 * parentheses, a line cut short, a field that is not a number.
 *
 * Any thread; nothing is kept between calls.
 */
#ifndef PROVFLOW_PROCSTAT_H
#define PROVFLOW_PROCSTAT_H

#include <stddef.h>

typedef struct pf_procstat {
    double cpu_seconds;        /* user + system, seconds */
    double resident_bytes;     /* resident set size */
    double virtual_bytes;      /* virtual memory size */
    double start_time_seconds; /* since the Unix epoch */
    double open_fds;           /* -1: could not be counted */
    double max_fds;            /* -1: unknown; RLIM_INFINITY as it is */
} pf_procstat;

/*
 * Parses the text of /proc/<pid>/stat (NUL-terminated): the fields after
 * the command name, which is found by the last ')' since the name itself
 * may hold spaces and parentheses. ticks is sysconf(_SC_CLK_TCK) (> 0),
 * page_size the page size in bytes (> 0), boot_time_s /proc/stat's btime.
 * Fills cpu_seconds, resident_bytes, virtual_bytes and start_time_seconds
 * of out (the others are left alone). Returns 0, or -1 with the reason
 * (which field, what was found) in errstr when the text is not that of a
 * stat file.
 */
int pf_procstat_parse_stat(const char *text, long ticks, long page_size,
                           double boot_time_s, pf_procstat *out, char *errstr,
                           size_t errstr_size);

/*
 * Finds the "btime N" line of /proc/stat's text: the boot time in seconds
 * since the epoch, into *btime. Returns 0, or -1 with the reason in errstr.
 */
int pf_procstat_parse_btime(const char *text, double *btime, char *errstr,
                            size_t errstr_size);

/*
 * Reads the whole set for this process. Returns 0, or -1 with the reason
 * in errstr when /proc cannot be read or parsed (out is then partly
 * filled: open_fds and max_fds may still be known).
 */
int pf_procstat_read(pf_procstat *out, char *errstr, size_t errstr_size);

#endif /* PROVFLOW_PROCSTAT_H */
