/*
 * test_credfile.c - credential files read again when they change: a
 * client secret file and a certificate file, replaced the way Kubernetes
 * and operators replace them, rewritten in place where stat() cannot
 * tell, removed (the last good credential stays), and the spec's
 * refusals. Keys and certificates are made at run time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "provflow/credfile.h"

typedef struct fixture {
    char dir[64];
    char path[128]; /* the credential file */
    char tmp[128];  /* written aside, then renamed over path */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/pf_test_credfile.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/cred", f->dir);
    snprintf(f->tmp, sizeof(f->tmp), "%s/cred.tmp", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    unlink(f->path);
    unlink(f->tmp);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Writes text aside and renames it over path: a new inode, as kubelet's
 * and most tools' replacements give. */
static void replace(const fixture *f, const char *text)
{
    FILE *fp = fopen(f->tmp, "w");

    assert_non_null(fp);
    assert_true(fputs(text, fp) >= 0);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(rename(f->tmp, f->path), 0);
}

/* Rewrites path in place and puts its modification time back: the one
 * change stat() cannot see (same inode, size and mtime). */
static void rewrite_unseen(const fixture *f, const char *text)
{
    struct stat st;
    struct timespec times[2];
    FILE *fp;

    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal((size_t)st.st_size, strlen(text));
    fp = fopen(f->path, "r+");
    assert_non_null(fp);
    assert_true(fputs(text, fp) >= 0);
    assert_int_equal(fclose(fp), 0);
    times[0] = st.st_atim;
    times[1] = st.st_mtim;
    assert_int_equal(utimensat(AT_FDCWD, f->path, times, 0), 0);
}

static void secret_file_is_read_again_when_replaced(void **state)
{
    fixture *f = *state;
    pf_credfile_spec spec = {.secret_file = f->path};
    char err[256];
    pf_credfile *c;

    replace(f, "Secret-A-0001\n");
    c = pf_credfile_new(&spec, err, sizeof(err));
    assert_non_null(c);
    assert_string_equal(pf_credfile_secret(c), "Secret-A-0001");
    assert_null(pf_credfile_signer(c));
    assert_string_equal(pf_credfile_path(c), f->path);
    assert_int_equal(pf_credfile_refresh(c, false, err, sizeof(err)), 0);

    replace(f, "Secret-B-0002\r\n");
    assert_int_equal(pf_credfile_refresh(c, false, err, sizeof(err)), 1);
    assert_string_equal(pf_credfile_secret(c), "Secret-B-0002");
    /* The same content again: read, but no change. */
    replace(f, "Secret-B-0002\n");
    assert_int_equal(pf_credfile_refresh(c, false, err, sizeof(err)), 0);
    assert_string_equal(pf_credfile_secret(c), "Secret-B-0002");
    pf_credfile_destroy(c);
}

static void a_failed_read_keeps_the_last_good_secret(void **state)
{
    fixture *f = *state;
    pf_credfile_spec spec = {.secret_file = f->path};
    char err[256];
    pf_credfile *c;

    replace(f, "Secret-A-0001\n");
    c = pf_credfile_new(&spec, err, sizeof(err));
    assert_non_null(c);

    /* Removed (a rotation half done): the last good one stays. */
    assert_int_equal(unlink(f->path), 0);
    assert_int_equal(pf_credfile_refresh(c, false, err, sizeof(err)), -1);
    assert_non_null(strstr(err, f->path));
    assert_non_null(strstr(err, "No such file"));
    assert_string_equal(pf_credfile_secret(c), "Secret-A-0001");

    /* Empty (written, not yet filled): the same. */
    replace(f, "\n");
    assert_int_equal(pf_credfile_refresh(c, false, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "empty"));
    assert_string_equal(pf_credfile_secret(c), "Secret-A-0001");

    /* Filled: taken, and never in a message before. */
    replace(f, "Secret-C-0003\n");
    assert_int_equal(pf_credfile_refresh(c, false, err, sizeof(err)), 1);
    assert_string_equal(pf_credfile_secret(c), "Secret-C-0003");
    assert_null(strstr(err, "Secret-"));
    pf_credfile_destroy(c);
}

static void forced_refresh_sees_what_stat_cannot(void **state)
{
    fixture *f = *state;
    pf_credfile_spec spec = {.secret_file = f->path};
    char err[256];
    pf_credfile *c;

    replace(f, "Secret-A-0001\n");
    c = pf_credfile_new(&spec, err, sizeof(err));
    assert_non_null(c);
    rewrite_unseen(f, "Secret-B-0002\n");
    assert_int_equal(pf_credfile_refresh(c, false, err, sizeof(err)), 0);
    assert_string_equal(pf_credfile_secret(c), "Secret-A-0001");
    /* What the token source does on invalid_client. */
    assert_int_equal(pf_credfile_refresh(c, true, err, sizeof(err)), 1);
    assert_string_equal(pf_credfile_secret(c), "Secret-B-0002");
    assert_int_equal(pf_credfile_refresh(c, true, err, sizeof(err)), 0);
    pf_credfile_destroy(c);
}

/* A certificate and its key as one PEM text (heap; the caller frees). */
static char *make_pem(const char *cn, char *thumb_out)
{
    EVP_PKEY *key = EVP_RSA_gen(2048);
    X509 *x = X509_new();
    BIO *bio = BIO_new(BIO_s_mem());
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n;
    char *data, *text;
    long len;

    assert_non_null(key);
    assert_non_null(x);
    assert_non_null(bio);
    assert_int_equal(X509_set_version(x, 2), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
    assert_int_equal(X509_set_pubkey(x, key), 1);
    assert_int_equal(
        X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                                   (const unsigned char *)cn, -1, -1, 0),
        1);
    assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(x)), 1);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    assert_int_equal(X509_digest(x, EVP_sha256(), md, &n), 1);
    /* Only to tell the two apart: the first bytes, in hex. */
    snprintf(thumb_out, 16, "%02x%02x%02x%02x", md[0], md[1], md[2], md[3]);
    assert_int_equal(PEM_write_bio_X509(bio, x), 1);
    assert_int_equal(
        PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL), 1);
    len = BIO_get_mem_data(bio, &data);
    /* BIO memory is not NUL-terminated: copied by length (no strndup,
     * which strict string checks read as a C string). */
    text = malloc((size_t)len + 1);
    assert_non_null(text);
    memcpy(text, data, (size_t)len);
    text[len] = '\0';
    BIO_free(bio);
    X509_free(x);
    EVP_PKEY_free(key);
    return text;
}

static void certificate_file_is_read_again_when_replaced(void **state)
{
    fixture *f = *state;
    pf_credfile_spec spec = {.certificate_path = f->path};
    char err[512], t1[16], t2[16], first[64];
    char *pem1 = make_pem("one", t1), *pem2 = make_pem("two", t2);
    pf_credfile *c;

    replace(f, pem1);
    c = pf_credfile_new(&spec, err, sizeof(err));
    if (c == NULL)
        fail_msg("%s", err);
    assert_null(pf_credfile_secret(c));
    snprintf(first, sizeof(first), "%s",
             pf_jwt_signer_thumbprint(pf_credfile_signer(c)));

    replace(f, pem2);
    assert_int_equal(pf_credfile_refresh(c, false, err, sizeof(err)), 1);
    assert_string_not_equal(pf_jwt_signer_thumbprint(pf_credfile_signer(c)),
                            first);

    /* Half written: refused, the new certificate stays in use. */
    snprintf(first, sizeof(first), "%s",
             pf_jwt_signer_thumbprint(pf_credfile_signer(c)));
    pem1[strlen(pem1) / 2] = '\0';
    replace(f, pem1);
    assert_int_equal(pf_credfile_refresh(c, false, err, sizeof(err)), -1);
    assert_non_null(strstr(err, f->path));
    assert_null(strstr(err, "PRIVATE"));
    assert_string_equal(pf_jwt_signer_thumbprint(pf_credfile_signer(c)), first);
    pf_credfile_destroy(c);
    free(pem1);
    free(pem2);
}

static void spec_conflicts_are_refused(void **state)
{
    const struct {
        pf_credfile_spec spec;
        const char *reason;
    } rows[] = {
        {{.secret = NULL}, "neither"},
        {{.secret = "x", .certificate_path = "/c"}, "both a client secret"},
        {{.secret = "x", .secret_file = "/s"}, "both as a value and"},
        {{.certificate_path = "/c", .password = "p", .password_file = "/p"},
         "both as a value and"},
        {{.secret = "x", .password = "p"}, "without a certificate"},
        {{.secret = "x", .send_chain = true}, "without a certificate"},
        {{.secret = ""}, "empty"},
    };
    char err[256];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        err[0] = '\0';
        assert_null(pf_credfile_new(&rows[i].spec, err, sizeof(err)));
        if (strstr(err, rows[i].reason) == NULL)
            fail_msg("row %zu: want \"%s\", got \"%s\"", i, rows[i].reason,
                     err);
    }
    pf_credfile_destroy(NULL);
}

/* A fixed secret has no file: it never changes. */
static void fixed_secret_never_changes(void **state)
{
    pf_credfile_spec spec = {.secret = "Fixed-s3cret"};
    char err[256];
    pf_credfile *c = pf_credfile_new(&spec, err, sizeof(err));

    (void)state;
    assert_non_null(c);
    assert_int_equal(pf_credfile_refresh(c, true, err, sizeof(err)), 0);
    assert_string_equal(pf_credfile_secret(c), "Fixed-s3cret");
    assert_string_equal(pf_credfile_path(c), "");
    pf_credfile_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(secret_file_is_read_again_when_replaced,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            a_failed_read_keeps_the_last_good_secret, setup, teardown),
        cmocka_unit_test_setup_teardown(forced_refresh_sees_what_stat_cannot,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            certificate_file_is_read_again_when_replaced, setup, teardown),
        cmocka_unit_test(spec_conflicts_are_refused),
        cmocka_unit_test(fixed_secret_never_changes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
