/* retry.c - retry policy and Retry-After parsing (retry.h). */
#include "provflow/retry.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

pf_retry_policy pf_retry_policy_default(void)
{
    pf_retry_policy p;

    p.max_attempts = PF_RETRY_MAX_ATTEMPTS_DEFAULT;
    p.max_elapsed_ms = PF_RETRY_MAX_ELAPSED_MS_DEFAULT;
    p.base_delay_ms = PF_RETRY_BASE_DELAY_MS_DEFAULT;
    p.max_backoff_ms = PF_RETRY_MAX_BACKOFF_MS_DEFAULT;
    p.max_retry_after_ms = PF_RETRY_MAX_RETRY_AFTER_MS_DEFAULT;
    return p;
}

static int check_fail(char *errstr, size_t errstr_size, const char *what)
{
    if (errstr != NULL && errstr_size > 0)
        snprintf(errstr, errstr_size, "retry policy: %s", what);
    return -1;
}

int pf_retry_policy_check(const pf_retry_policy *p, char *errstr,
                          size_t errstr_size)
{
    if (p->max_attempts < 1)
        return check_fail(errstr, errstr_size, "max_attempts must be >= 1");
    if (p->max_elapsed_ms < 0)
        return check_fail(errstr, errstr_size, "max_elapsed_ms must be >= 0");
    if (p->base_delay_ms < 1)
        return check_fail(errstr, errstr_size, "base_delay_ms must be >= 1");
    if (p->max_backoff_ms < p->base_delay_ms)
        return check_fail(errstr, errstr_size,
                          "max_backoff_ms must be >= base_delay_ms");
    if (p->max_retry_after_ms < 0)
        return check_fail(errstr, errstr_size,
                          "max_retry_after_ms must be >= 0");
    return 0;
}

int64_t pf_retry_backoff_window(const pf_retry_policy *p, int attempts)
{
    int shift = attempts < 1 ? 0 : attempts - 1;

    /* base << shift would exceed the cap (or overflow): the cap applies. */
    if (shift >= 63 || p->base_delay_ms > (p->max_backoff_ms >> shift))
        return p->max_backoff_ms;
    return p->base_delay_ms << shift;
}

/*
 * Full jitter: a uniform value in [0, window]. (rnd * (window + 1)) / 2^64
 * is below window + 1 for every rnd, so the result never exceeds window.
 */
static int64_t jitter(int64_t window, uint64_t rnd)
{
    unsigned __int128 scaled = (unsigned __int128)rnd * ((uint64_t)window + 1);

    return (int64_t)(scaled >> 64);
}

pf_retry_verdict pf_retry_decide(const pf_retry_policy *p, int attempts,
                                 int64_t start_ms, int64_t now_ms,
                                 int64_t retry_after_ms, uint64_t rnd,
                                 int64_t *delay_ms)
{
    int64_t delay;

    assert(pf_retry_policy_check(p, NULL, 0) == 0); /* retry.h */
    *delay_ms = 0;
    if (attempts < 1)
        attempts = 1;
    if (attempts >= p->max_attempts)
        return PF_RETRY_GIVE_UP_ATTEMPTS;

    if (retry_after_ms >= 0)
        delay = retry_after_ms < p->max_retry_after_ms ? retry_after_ms
                                                       : p->max_retry_after_ms;
    else
        delay = jitter(pf_retry_backoff_window(p, attempts), rnd);

    /*
     * Sleeping only to find the deadline passed would hold the key's queue
     * for nothing: give up now if the next attempt would start too late.
     */
    if ((now_ms - start_ms) + delay > p->max_elapsed_ms)
        return PF_RETRY_GIVE_UP_ELAPSED;

    *delay_ms = delay;
    return PF_RETRY_AGAIN;
}

/* ---- Retry-After ---- */

static const char *const day_short[] = {"Mon", "Tue", "Wed", "Thu",
                                        "Fri", "Sat", "Sun"};
static const char *const day_long[] = {"Monday",   "Tuesday", "Wednesday",
                                       "Thursday", "Friday",  "Saturday",
                                       "Sunday"};
static const char *const month_names[] = {"Jan", "Feb", "Mar", "Apr",
                                          "May", "Jun", "Jul", "Aug",
                                          "Sep", "Oct", "Nov", "Dec"};

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Consumes the literal `lit` (case-sensitive, as RFC 9110 asks). */
static int take_lit(const char **s, const char *lit)
{
    size_t n = strlen(lit);

    if (strncmp(*s, lit, n) != 0)
        return -1;
    *s += n;
    return 0;
}

/* Consumes exactly n digits. */
static int take_digits(const char **s, int n, int *out)
{
    int v = 0;
    int i;

    for (i = 0; i < n; i++) {
        if (!is_digit((*s)[i]))
            return -1;
        v = v * 10 + ((*s)[i] - '0');
    }
    *s += n;
    *out = v;
    return 0;
}

/* Consumes a three-letter month name; *mon is 1..12. */
static int take_month(const char **s, int *mon)
{
    int i;

    for (i = 0; i < 12; i++) {
        if (take_lit(s, month_names[i]) == 0) {
            *mon = i + 1;
            return 0;
        }
    }
    return -1;
}

/* Consumes "HH:MM:SS"; 60 seconds is a leap second (RFC 9110 5.6.7). */
static int take_time(const char **s, int *hh, int *mm, int *ss)
{
    if (take_digits(s, 2, hh) < 0 || take_lit(s, ":") < 0 ||
        take_digits(s, 2, mm) < 0 || take_lit(s, ":") < 0 ||
        take_digits(s, 2, ss) < 0)
        return -1;
    return *hh <= 23 && *mm <= 59 && *ss <= 60 ? 0 : -1;
}

/* A day-name of the given table, as a whole word of `len` letters. */
static int is_day_name(const char *s, size_t len, const char *const *names)
{
    int i;

    for (i = 0; i < 7; i++) {
        if (strlen(names[i]) == len && strncmp(s, names[i], len) == 0)
            return 1;
    }
    return 0;
}

static int leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    return m == 2 && leap(y) ? 29 : dim[m - 1];
}

/*
 * Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil): pure arithmetic, so no timegm() and no TZ dependence.
 */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int64_t unix_time(int64_t y, int mon, int d, int hh, int mm, int ss)
{
    return days_from_civil(y, mon, d) * 86400 + hh * 3600 + mm * 60 + ss;
}

/* Parses the three HTTP-date forms; returns 0 and *t on success. */
static int parse_http_date(const char *s, int64_t now_unix_s, int64_t *t)
{
    const char *name = s;
    size_t name_len = 0;
    int day, mon, year, hh, mm, ss;

    while (is_alpha(s[name_len]))
        name_len++;
    s += name_len;

    if (name_len == 3 && is_day_name(name, name_len, day_short) && *s == ',') {
        /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
        if (take_lit(&s, ", ") < 0 || take_digits(&s, 2, &day) < 0 ||
            take_lit(&s, " ") < 0 || take_month(&s, &mon) < 0 ||
            take_lit(&s, " ") < 0 || take_digits(&s, 4, &year) < 0 ||
            take_lit(&s, " ") < 0 || take_time(&s, &hh, &mm, &ss) < 0 ||
            take_lit(&s, " GMT") < 0)
            return -1;
    } else if (is_day_name(name, name_len, day_long) && *s == ',') {
        /* rfc850-date: Sunday, 06-Nov-94 08:49:37 GMT */
        int yy;

        if (take_lit(&s, ", ") < 0 || take_digits(&s, 2, &day) < 0 ||
            take_lit(&s, "-") < 0 || take_month(&s, &mon) < 0 ||
            take_lit(&s, "-") < 0 || take_digits(&s, 2, &yy) < 0 ||
            take_lit(&s, " ") < 0 || take_time(&s, &hh, &mm, &ss) < 0 ||
            take_lit(&s, " GMT") < 0)
            return -1;
        /*
         * RFC 9110 5.6.7: a two-digit year that would be more than 50 years
         * in the future is the most recent past year with those digits.
         */
        year = 2000 + yy;
        if (day >= 1 && day <= days_in_month(year, mon) &&
            unix_time(year, mon, day, hh, mm, ss) >
                now_unix_s + 50LL * 31556952)
            year -= 100;
    } else if (name_len == 3 && is_day_name(name, name_len, day_short) &&
               *s == ' ') {
        /* asctime-date: Sun Nov  6 08:49:37 1994 */
        if (take_lit(&s, " ") < 0 || take_month(&s, &mon) < 0 ||
            take_lit(&s, " ") < 0)
            return -1;
        if (*s == ' ') {
            s++;
            if (take_digits(&s, 1, &day) < 0)
                return -1;
        } else if (take_digits(&s, 2, &day) < 0) {
            return -1;
        }
        if (take_lit(&s, " ") < 0 || take_time(&s, &hh, &mm, &ss) < 0 ||
            take_lit(&s, " ") < 0 || take_digits(&s, 4, &year) < 0)
            return -1;
    } else {
        return -1;
    }

    while (is_ows(*s))
        s++;
    if (*s != '\0' || day < 1 || day > days_in_month(year, mon))
        return -1;
    *t = unix_time(year, mon, day, hh, mm, ss);
    return 0;
}

int64_t pf_retry_after_parse(const char *value, int64_t now_unix_s)
{
    const char *s = value;
    int64_t secs = 0;
    int64_t t;

    if (s == NULL)
        return -1;
    while (is_ows(*s))
        s++;

    if (is_digit(*s)) {
        /* delta-seconds; saturate instead of overflowing. */
        while (is_digit(*s)) {
            if (secs < PF_RETRY_AFTER_MAX_S)
                secs = secs * 10 + (*s - '0');
            s++;
        }
        while (is_ows(*s))
            s++;
        if (*s != '\0')
            return -1;
    } else {
        if (parse_http_date(s, now_unix_s, &t) < 0)
            return -1;
        secs = t > now_unix_s ? t - now_unix_s : 0;
    }
    if (secs > PF_RETRY_AFTER_MAX_S)
        secs = PF_RETRY_AFTER_MAX_S;
    return secs * 1000;
}
