/*
 * sync/seal/seal.c - sealing and opening bundles with libcrypto: the key of
 * a device as text, the clear header of a sealed file, AES-256-GCM over the
 * plain bundle with a per-bundle key from HKDF-SHA256 (docs/BUNDLES.md).
 *
 * Invariants:
 *   1. The header line, byte for byte, is the additional data of the
 *      cipher: a header that parses but differs in any byte (another
 *      office, device, sequence, length, salt or nonce) fails the tag.
 *   2. mq_seal_open() hands back no plaintext before the tag has matched
 *      over the whole ciphertext and the file has ended right after it.
 *   3. Each bundle has a fresh random salt (so a fresh key) and a fresh
 *      random nonce: no key and nonce pair is ever used twice, whatever the
 *      sequence numbers a tablet writes.
 *   4. Derived keys and cipher contexts are wiped or freed on every path.
 */
#include "minqing/seal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "minqing/valid.h"
#include "platform.h"

#define MAGIC      "minqing-sealed-bundle"
#define KEY_PREFIX "mqk1:"
#define TAG_BYTES  16
#define CHUNK      ((size_t)64 * 1024)
/* Sequence numbers stay within what a JSON number holds exactly. */
#define SEQ_MAX ((int64_t)1 << 53)

/* HKDF's "info": what the derived key is for, so that a key made for
 * another use (or the other direction, one day) never equals this one. */
static const char KDF_INFO[] = "minqing sealed bundle 1: tablet to office";

void mq_seal_wipe(void *p, size_t n)
{
    volatile unsigned char *b = p;
    while (n-- > 0)
        *b++ = 0;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int
fail(mq_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = mq_error_setv(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL, fmt, ap);
    va_end(ap);
    return rc;
}

static int crypto_failed(mq_error *err, const char *what)
{
    return mq_error_set(err, MQ_EIO, MQ_DOMAIN_MINQING, MQ_EIO, "libcrypto: %s failed",
                        what);
}

static void hex_write(char *out, const unsigned char *in, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1; /* upper case is not written here, so not read either */
}

/* Reads exactly 2*n lowercase hex digits from `s`; 0 or -1. */
static int hex_read(unsigned char *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hex_digit(s[2 * i]), lo = hi < 0 ? -1 : hex_digit(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

static int is_office(const char *s, size_t n)
{
    if (n != 16)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (hex_digit(s[i]) < 0)
            return 0;
    return 1;
}

/* ---- keys ---------------------------------------------------------------- */

int mq_seal_key_new(mq_seal_key *out, const char *office, const char *device,
                    mq_error *err)
{
    memset(out, 0, sizeof *out);
    if (office == NULL || !is_office(office, strlen(office)))
        return fail(err, "office id \"%.40s\": 16 lowercase hex digits",
                    office ? office : "");
    if (device == NULL || !mq_valid_name(device, 64))
        return fail(err, "device name \"%.80s\": 1 to 64 characters of [A-Za-z0-9_.-]",
                    device ? device : "");
    if (mq_platform_random(out->key, sizeof out->key) != 0)
        return mq_error_set(err, MQ_EIO, MQ_DOMAIN_MINQING, MQ_EIO,
                            "cannot read the system's random generator");
    memcpy(out->office, office, 17);
    snprintf(out->device, sizeof out->device, "%s", device);
    return 0;
}

void mq_seal_key_format(const mq_seal_key *key, char out[MQ_SEAL_KEY_TEXT_MAX])
{
    char hex[2 * MQ_SEAL_KEY_BYTES + 1];
    hex_write(hex, key->key, sizeof key->key);
    snprintf(out, MQ_SEAL_KEY_TEXT_MAX, KEY_PREFIX "%s:%s:%s", key->office, key->device,
             hex);
    mq_seal_wipe(hex, sizeof hex);
}

int mq_seal_key_parse(mq_seal_key *out, const char *text, mq_error *err)
{
    static const char form[] =
        "a bundle key is mqk1:OFFICE:DEVICE:KEY, as minqing-server printed it at "
        "enrolment";
    memset(out, 0, sizeof *out);
    if (text == NULL)
        text = "";
    while (*text == ' ' || *text == '\t' || *text == '\r' || *text == '\n')
        text++;
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\t' || text[n - 1] == '\r' ||
                     text[n - 1] == '\n'))
        n--;
    if (n < 5 || memcmp(text, KEY_PREFIX, 5) != 0)
        return fail(err, "%s: it does not begin with mqk1:", form);
    const char *office = text + 5;
    const char *c1 = memchr(office, ':', n - 5);
    if (c1 == NULL || !is_office(office, (size_t)(c1 - office)))
        return fail(err, "%s: its office is not 16 lowercase hex digits", form);
    const char *device = c1 + 1;
    const char *c2 = memchr(device, ':', (size_t)(text + n - device));
    size_t dlen = c2 != NULL ? (size_t)(c2 - device) : 0;
    if (c2 == NULL || dlen == 0 || dlen > 64)
        return fail(err, "%s: its device name is missing or too long", form);
    memcpy(out->device, device, dlen);
    out->device[dlen] = '\0';
    if (!mq_valid_name(out->device, 64)) {
        memset(out, 0, sizeof *out);
        return fail(err,
                    "%s: its device name is not 1 to 64 characters of "
                    "[A-Za-z0-9_.-]",
                    form);
    }
    const char *hex = c2 + 1;
    if ((size_t)(text + n - hex) != (size_t)2 * MQ_SEAL_KEY_BYTES ||
        hex_read(out->key, hex, MQ_SEAL_KEY_BYTES) != 0) {
        memset(out, 0, sizeof *out);
        return fail(err, "%s: its key is not 64 lowercase hex digits", form);
    }
    memcpy(out->office, office, 16);
    out->office[16] = '\0';
    return 0;
}

/* The key of one bundle: HKDF-SHA256(device key, salt, KDF_INFO). */
static int derive(unsigned char out[MQ_SEAL_KEY_BYTES],
                  const unsigned char key[MQ_SEAL_KEY_BYTES],
                  const unsigned char salt[32], mq_error *err)
{
    char digest[] = "SHA256";
    OSSL_PARAM params[5];
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *ctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
    int ok = ctx != NULL;

    EVP_KDF_free(kdf);
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key,
                                                  MQ_SEAL_KEY_BYTES);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, 32);
    params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)KDF_INFO,
                                                  sizeof KDF_INFO - 1);
    params[4] = OSSL_PARAM_construct_end();
    ok = ok && EVP_KDF_derive(ctx, out, MQ_SEAL_KEY_BYTES, params) == 1;
    EVP_KDF_CTX_free(ctx);
    if (!ok) {
        mq_seal_wipe(out, MQ_SEAL_KEY_BYTES);
        return crypto_failed(err, "HKDF-SHA256");
    }
    return 0;
}

/* ---- the header ------------------------------------------------------------ */

static void header_format(mq_seal_header *h)
{
    char salt[65], nonce[25];
    hex_write(salt, h->salt, sizeof h->salt);
    hex_write(nonce, h->nonce, sizeof h->nonce);
    int n = snprintf(h->line, sizeof h->line,
                     MAGIC " %d office=%s device=%s seq=%" PRId64 " length=%" PRIu64
                           " salt=%s nonce=%s\n",
                     h->format, h->office, h->device, h->seq, h->length, salt, nonce);
    h->line_len = n > 0 && (size_t)n < sizeof h->line ? (size_t)n : 0;
}

/* A cursor over the header line, for parse(). */
typedef struct cursor {
    const char *p, *end;
} cursor;

/* Takes `lit` at the cursor; 1 when it was there. */
static int take(cursor *c, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n) != 0)
        return 0;
    c->p += n;
    return 1;
}

/* The word at the cursor, up to the next space or newline. */
static size_t word(const cursor *c)
{
    size_t n = 0;
    while (c->p + n < c->end && c->p[n] != ' ' && c->p[n] != '\n')
        n++;
    return n;
}

/* A decimal number without sign or leading zero, at most `max`; 0 or -1. */
static int number(cursor *c, uint64_t max, uint64_t *out)
{
    size_t n = word(c);
    uint64_t v = 0;
    if (n == 0 || n > 19 || (n > 1 && c->p[0] == '0'))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (c->p[i] < '0' || c->p[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(c->p[i] - '0');
    }
    if (v > max)
        return -1;
    c->p += n;
    *out = v;
    return 0;
}

static int hex_field(cursor *c, unsigned char *out, size_t n)
{
    if (word(c) != 2 * n || hex_read(out, c->p, n) != 0)
        return -1;
    c->p += 2 * n;
    return 0;
}

static int damaged(mq_error *err, const char *source, const char *what)
{
    return fail(err,
                "%s: the header of the sealed bundle is damaged (%s); nothing applied",
                source, what);
}

/* Parses h->line (h->line_len bytes, newline included). */
static int parse(mq_seal_header *h, const char *source, mq_error *err)
{
    cursor c = {h->line, h->line + h->line_len};
    uint64_t v;

    if (!take(&c, MAGIC " "))
        return damaged(err, source, "no magic word");
    if (number(&c, 1000000, &v) != 0 || !take(&c, " "))
        return damaged(err, source, "no format number");
    if (v != MQ_SEAL_FORMAT) {
        char f[24];
        snprintf(f, sizeof f, "%" PRIu64, v);
        return fail(err,
                    "%s: a sealed bundle of format %s; this minqing reads format 1: "
                    "update minqing here; nothing applied",
                    source, f);
    }
    h->format = (int)v;
    size_t n;
    if (!take(&c, "office=") || (n = word(&c)) != 16 || !is_office(c.p, n))
        return damaged(err, source, "office=");
    memcpy(h->office, c.p, 16);
    h->office[16] = '\0';
    c.p += 16;
    if (!take(&c, " device=") || (n = word(&c)) == 0 || n > 64)
        return damaged(err, source, "device=");
    memcpy(h->device, c.p, n);
    h->device[n] = '\0';
    c.p += n;
    if (!mq_valid_name(h->device, 64))
        return damaged(err, source, "device=");
    if (!take(&c, " seq=") || number(&c, (uint64_t)SEQ_MAX, &v) != 0 || v == 0)
        return damaged(err, source, "seq=");
    h->seq = (int64_t)v;
    if (!take(&c, " length=") || number(&c, MQ_SEAL_MAX_LENGTH, &h->length) != 0)
        return damaged(err, source, "length=");
    if (!take(&c, " salt=") || hex_field(&c, h->salt, sizeof h->salt) != 0)
        return damaged(err, source, "salt=");
    if (!take(&c, " nonce=") || hex_field(&c, h->nonce, sizeof h->nonce) != 0)
        return damaged(err, source, "nonce=");
    if (!take(&c, "\n") || c.p != c.end)
        return damaged(err, source, "not one line of header");
    return 0;
}

int mq_seal_read_header(FILE *in, const char *source, mq_seal_header *out, mq_error *err)
{
    size_t n = 0;
    int ch = EOF;

    memset(out, 0, sizeof *out);
    while (n < MQ_SEAL_HEADER_MAX && (ch = getc(in)) != EOF) {
        out->line[n++] = (char)ch;
        if (ch == '\n')
            break;
    }
    out->line_len = n;
    if (ferror(in))
        return mq_error_set(err, MQ_EIO, MQ_DOMAIN_MINQING, MQ_EIO,
                            "%s: cannot read the input", source);
    if (n == 0)
        return fail(err, "%s: empty input, not a sealed bundle; nothing applied", source);
    if (out->line[0] == '{')
        return fail(err,
                    "%s: a plain bundle, not a sealed one; the office opens only sealed "
                    "bundles (minqing changes --seal); nothing applied",
                    source);
    if (n < sizeof MAGIC || memcmp(out->line, MAGIC " ", sizeof MAGIC) != 0)
        return fail(err,
                    "%s: not a sealed minqing bundle (it does not begin with \"" MAGIC
                    "\"); nothing applied",
                    source);
    if (memchr(out->line, '\0', n) != NULL)
        return damaged(err, source, "a NUL byte");
    if (out->line[n - 1] != '\n')
        return damaged(err, source, ch == EOF ? "the file ends inside it" : "too long");
    return parse(out, source, err);
}

/* ---- sealing and opening ----------------------------------------------------- */

/* A GCM context keyed for header `h`, its AAD already fed. */
static int gcm_start(EVP_CIPHER_CTX **out, int encrypt, const mq_seal_header *h,
                     const unsigned char key[MQ_SEAL_KEY_BYTES], mq_error *err)
{
    unsigned char k[MQ_SEAL_KEY_BYTES];
    EVP_CIPHER_CTX *ctx = NULL;
    int len, rc = derive(k, key, h->salt, err);

    *out = NULL;
    if (rc != 0)
        return rc;
    ctx = EVP_CIPHER_CTX_new();
    int ok = ctx != NULL &&
             EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, encrypt) == 1 &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, (int)sizeof h->nonce,
                                 NULL) == 1 &&
             EVP_CipherInit_ex(ctx, NULL, NULL, k, h->nonce, encrypt) == 1 &&
             EVP_CipherUpdate(ctx, NULL, &len, (const unsigned char *)h->line,
                              (int)h->line_len) == 1;
    mq_seal_wipe(k, sizeof k);
    if (!ok) {
        EVP_CIPHER_CTX_free(ctx);
        return crypto_failed(err, "AES-256-GCM");
    }
    *out = ctx;
    return 0;
}

static int write_failed(mq_error *err)
{
    return mq_error_set(err, MQ_EIO, MQ_DOMAIN_MINQING, MQ_EIO,
                        "cannot write the sealed bundle");
}

int mq_seal_write(FILE *out, FILE *plain, const mq_seal_key *key, int64_t seq,
                  mq_error *err)
{
    mq_seal_header h;
    unsigned char *in = NULL, *ct = NULL, tag[TAG_BYTES];
    EVP_CIPHER_CTX *ctx = NULL;
    uint64_t total = 0, done = 0;
    size_t got;
    int rc = 0, len;

    memset(&h, 0, sizeof h);
    if (seq < 1 || seq > SEQ_MAX)
        return mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                            "bundle sequence %" PRId64 ": 1 to 2^53", seq);
    if ((in = malloc(CHUNK)) == NULL || (ct = malloc(CHUNK + 32)) == NULL) {
        free(in);
        return mq_error_set(err, MQ_ENOMEM, MQ_DOMAIN_MINQING, MQ_ENOMEM,
                            "out of memory");
    }
    /* Measured first: the length goes in the authenticated header. */
    while ((got = fread(in, 1, CHUNK, plain)) > 0)
        total += got;
    if (ferror(plain))
        rc = mq_error_set(err, MQ_EIO, MQ_DOMAIN_MINQING, MQ_EIO,
                          "cannot read the bundle to seal");
    else if (total > MQ_SEAL_MAX_LENGTH)
        rc = mq_error_set(
            err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
            "a bundle of %" PRIu64 " bytes; at most 64 GiB are sealed in one", total);
    rewind(plain);
    if (rc == 0 && (mq_platform_random(h.salt, sizeof h.salt) != 0 ||
                    mq_platform_random(h.nonce, sizeof h.nonce) != 0))
        rc = mq_error_set(err, MQ_EIO, MQ_DOMAIN_MINQING, MQ_EIO,
                          "cannot read the system's random generator");
    if (rc == 0) {
        h.format = MQ_SEAL_FORMAT;
        memcpy(h.office, key->office, sizeof h.office);
        memcpy(h.device, key->device, sizeof h.device);
        h.seq = seq;
        h.length = total;
        header_format(&h);
        if (h.line_len == 0)
            rc = mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                              "the key's office or device is malformed");
    }
    if (rc == 0)
        rc = gcm_start(&ctx, 1, &h, key->key, err);
    if (rc == 0 && fwrite(h.line, 1, h.line_len, out) != h.line_len)
        rc = write_failed(err);
    while (rc == 0 && (got = fread(in, 1, CHUNK, plain)) > 0) {
        done += got;
        if (done > total) /* the file grew between the two reads */
            break;
        if (EVP_EncryptUpdate(ctx, ct, &len, in, (int)got) != 1)
            rc = crypto_failed(err, "AES-256-GCM");
        else if (fwrite(ct, 1, (size_t)len, out) != (size_t)len)
            rc = write_failed(err);
    }
    if (rc == 0 && (ferror(plain) || done != total))
        rc = mq_error_set(err, MQ_EIO, MQ_DOMAIN_MINQING, MQ_EIO,
                          "the bundle to seal changed while it was read");
    if (rc == 0 && (EVP_EncryptFinal_ex(ctx, ct, &len) != 1 ||
                    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_BYTES, tag) != 1))
        rc = crypto_failed(err, "AES-256-GCM");
    if (rc == 0 && (fwrite(ct, 1, (size_t)len, out) != (size_t)len ||
                    fwrite(tag, 1, TAG_BYTES, out) != TAG_BYTES))
        rc = write_failed(err);
    EVP_CIPHER_CTX_free(ctx);
    mq_seal_wipe(in, CHUNK);
    free(in);
    free(ct);
    return rc;
}

static int cut_short(mq_error *err, const char *source, uint64_t want, uint64_t have)
{
    return mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                        "%s: the sealed bundle is cut short: its header says %" PRIu64
                        " bytes and a tag, the file holds %" PRIu64
                        " after the header; nothing applied",
                        source, want, have);
}

int mq_seal_open(FILE **plain, FILE *in, const char *source, const mq_seal_header *h,
                 const unsigned char key[MQ_SEAL_KEY_BYTES], mq_error *err)
{
    unsigned char *ct = NULL, *pt = NULL, tag[TAG_BYTES];
    EVP_CIPHER_CTX *ctx = NULL;
    uint64_t left = h->length;
    FILE *tmp = NULL;
    int rc, len;

    *plain = NULL;
    if ((ct = malloc(CHUNK)) == NULL || (pt = malloc(CHUNK + 32)) == NULL) {
        free(ct);
        return mq_error_set(err, MQ_ENOMEM, MQ_DOMAIN_MINQING, MQ_ENOMEM,
                            "out of memory");
    }
    rc = gcm_start(&ctx, 0, h, key, err);
    if (rc == 0 && (tmp = tmpfile()) == NULL)
        rc = mq_error_set(err, MQ_EIO, MQ_DOMAIN_MINQING, MQ_EIO,
                          "%s: cannot make a temporary file to open the bundle into",
                          source);
    while (rc == 0 && left > 0) {
        size_t want = left < CHUNK ? (size_t)left : CHUNK;
        size_t got = fread(ct, 1, want, in);
        if (got == 0)
            break;
        left -= got;
        if (EVP_DecryptUpdate(ctx, pt, &len, ct, (int)got) != 1)
            rc = crypto_failed(err, "AES-256-GCM");
        else if (fwrite(pt, 1, (size_t)len, tmp) != (size_t)len)
            rc = mq_error_set(err, MQ_EIO, MQ_DOMAIN_MINQING, MQ_EIO,
                              "%s: cannot write the temporary file", source);
    }
    size_t tag_got = 0;
    if (rc == 0 && left == 0)
        tag_got = fread(tag, 1, TAG_BYTES, in);
    if (rc == 0 && ferror(in))
        rc = mq_error_set(err, MQ_EIO, MQ_DOMAIN_MINQING, MQ_EIO,
                          "%s: cannot read the input", source);
    if (rc == 0 && (left > 0 || tag_got < TAG_BYTES))
        rc = cut_short(err, source, h->length, h->length - left + tag_got);
    if (rc == 0 && getc(in) != EOF) {
        uint64_t more = 1;
        while (getc(in) != EOF)
            more++;
        rc = mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                          "%s: %" PRIu64
                          " byte%s after the end of the sealed bundle: it is damaged or "
                          "altered; nothing applied",
                          source, more, more == 1 ? "" : "s");
    }
    if (rc == 0 && (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_BYTES, tag) != 1 ||
                    EVP_DecryptFinal_ex(ctx, pt, &len) != 1))
        rc = mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                          "%s: the sealed bundle does not authenticate with the key of "
                          "device %s: it was altered or damaged, or sealed with another "
                          "key; nothing applied",
                          source, h->device);
    if (rc == 0 && (fflush(tmp) != 0 || ferror(tmp)))
        rc = mq_error_set(err, MQ_EIO, MQ_DOMAIN_MINQING, MQ_EIO,
                          "%s: cannot write the temporary file", source);
    EVP_CIPHER_CTX_free(ctx);
    mq_seal_wipe(pt, CHUNK + 32);
    free(ct);
    free(pt);
    if (rc != 0) {
        if (tmp != NULL)
            fclose(tmp);
        return rc;
    }
    rewind(tmp);
    *plain = tmp;
    return 0;
}
