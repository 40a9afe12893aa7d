/* procstat.c - the process's own resource figures (procstat.h). */
#include "provflow/procstat.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/*
 * The fields of /proc/<pid>/stat used here, numbered as proc(5) numbers
 * them (1: pid, 2: comm, 3: state).
 */
#define F_UTIME     14
#define F_STIME     15
#define F_STARTTIME 22
#define F_VSIZE     23
#define F_RSS       24

#define STAT_MAX 4096 /* /proc/self/stat is a few hundred bytes */

/* The unsigned decimal at *p (after blanks); false if there is none. */
static bool field_u64(const char **p, unsigned long long *v)
{
    char *end;
    const char *s = *p;

    while (*s == ' ')
        s++;
    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    *v = strtoull(s, &end, 10);
    if (errno != 0 || (*end != ' ' && *end != '\n' && *end != '\0'))
        return false;
    *p = end;
    return true;
}

/* Skips one blank-separated field; false at the end of the text. */
static bool skip_field(const char **p)
{
    const char *s = *p;

    while (*s == ' ')
        s++;
    if (*s == '\0' || *s == '\n')
        return false;
    while (*s != ' ' && *s != '\0' && *s != '\n')
        s++;
    *p = s;
    return true;
}

int pf_procstat_parse_stat(const char *text, long ticks, long page_size,
                           double boot_time_s, pf_procstat *out, char *errstr,
                           size_t errstr_size)
{
    /* The command name may hold ") (": only the last ')' closes it. */
    const char *p = strrchr(text, ')');
    unsigned long long v, got[F_RSS + 1] = {0};
    int field;

    if (p == NULL || ticks <= 0 || page_size <= 0) {
        snprintf(errstr, errstr_size,
                 p == NULL ? "stat: no command name in parentheses"
                           : "stat: clock ticks or page size unknown");
        return -1;
    }
    p++;
    if (!skip_field(&p)) { /* 3: the state, a letter */
        snprintf(errstr, errstr_size, "stat: field 3 (state) missing");
        return -1;
    }
    for (field = 4; field <= F_RSS; field++) {
        bool wanted = field == F_UTIME || field == F_STIME ||
                      field == F_STARTTIME || field == F_VSIZE ||
                      field == F_RSS;

        /* Fields not read here may be negative (priority, nice). */
        if (!wanted && skip_field(&p))
            continue;
        if (!wanted || !field_u64(&p, &v)) {
            snprintf(errstr, errstr_size,
                     "stat: field %d is missing or not a number", field);
            return -1;
        }
        got[field] = v;
    }
    out->cpu_seconds = (double)(got[F_UTIME] + got[F_STIME]) / (double)ticks;
    out->start_time_seconds =
        boot_time_s + (double)got[F_STARTTIME] / (double)ticks;
    out->virtual_bytes = (double)got[F_VSIZE];
    out->resident_bytes = (double)got[F_RSS] * (double)page_size;
    return 0;
}

int pf_procstat_parse_btime(const char *text, double *btime, char *errstr,
                            size_t errstr_size)
{
    const char *p = text;
    unsigned long long v;

    while (p != NULL && *p != '\0') {
        if (strncmp(p, "btime ", 6) == 0) {
            p += 6;
            if (!field_u64(&p, &v))
                break;
            *btime = (double)v;
            return 0;
        }
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    snprintf(errstr, errstr_size, "/proc/stat: no \"btime N\" line");
    return -1;
}

/* Reads a small /proc file whole into buf (NUL-terminated). */
static int read_small(const char *path, char *buf, size_t size, char *errstr,
                      size_t errstr_size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t len = 0;
    ssize_t n;

    if (fd < 0) {
        snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        return -1;
    }
    do {
        n = read(fd, buf + len, size - 1 - len);
        if (n > 0)
            len += (size_t)n;
    } while ((n > 0 || (n < 0 && errno == EINTR)) && len < size - 1);
    close(fd);
    buf[len] = '\0';
    if (n < 0) {
        snprintf(errstr, errstr_size, "%s: read failed", path);
        return -1;
    }
    return 0;
}

/*
 * /proc/stat's btime, line by line: the file grows with the CPUs and the
 * interrupts (its "intr" line can be tens of kilobytes), so it is not read
 * whole; only a line that starts with "btime" is parsed.
 */
static int boot_time(double *btime, char *errstr, size_t errstr_size)
{
    FILE *f = fopen("/proc/stat", "re");
    char line[256];
    bool at_start = true;
    int rc = -1;

    if (f == NULL) {
        snprintf(errstr, errstr_size, "/proc/stat: %s", strerror(errno));
        return -1;
    }
    snprintf(errstr, errstr_size, "/proc/stat: no \"btime N\" line");
    while (rc != 0 && fgets(line, sizeof(line), f) != NULL) {
        if (at_start && strncmp(line, "btime ", 6) == 0)
            rc = pf_procstat_parse_btime(line, btime, errstr, errstr_size);
        at_start = strchr(line, '\n') != NULL; /* a long line goes on */
    }
    fclose(f);
    return rc;
}

/* Entries of /proc/self/fd, less the one the listing itself holds open. */
static double open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    double n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.')
            n++;
    }
    closedir(d);
    return n > 0 ? n - 1 : 0;
}

int pf_procstat_read(pf_procstat *out, char *errstr, size_t errstr_size)
{
    char stat[STAT_MAX];
    struct rlimit rl;
    double btime = 0;

    out->open_fds = open_fds();
    out->max_fds =
        getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (double)rl.rlim_cur : -1;
    if (boot_time(&btime, errstr, errstr_size) != 0 ||
        read_small("/proc/self/stat", stat, sizeof(stat), errstr,
                   errstr_size) != 0)
        return -1;
    return pf_procstat_parse_stat(stat, sysconf(_SC_CLK_TCK),
                                  sysconf(_SC_PAGESIZE), btime, out, errstr,
                                  errstr_size);
}
