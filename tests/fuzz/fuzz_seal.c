/*
 * tests/fuzz/fuzz_seal.c - the opener of sealed bundles (sync/seal): the
 * input is a file handed to mq_seal_read_header() and mq_seal_open() with
 * the key of the seeds (FUZZ_KEY below, which make_corpus.sh seals with).
 *
 * What must hold, whatever the input:
 *   1. Every refusal is MQ_EINVAL (MQ_EIO only for a temporary file that
 *      cannot be made), with a message, and hands back no plaintext.
 *   2. What opens is exactly the header's length of bytes.
 *   3. No single flipped bit of an input that opens opens too: the bit
 *      is chosen from the input, so that the runs cover every position.
 *   4. The plaintext sealed again under the same key and sequence opens
 *      to the same bytes (the writer and the reader agree).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "minqing/seal.h"

#define FUZZ_KEY                                                                         \
    "mqk1:0123456789abcdef:fuzz-tablet:"                                                 \
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

static mq_seal_key key;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    mq_error e;
    (void)argc;
    (void)argv;
    if (mq_seal_key_parse(&key, FUZZ_KEY, &e) != 0)
        fuzz_fail("the fuzz key does not parse: %s", e.message);
    return 0;
}

/* Opens `n` bytes; the plaintext (malloc'ed, *len bytes) or NULL. */
static unsigned char *open_bytes(const uint8_t *data, size_t n, size_t *len)
{
    FILE *in = fuzz_stream(data, n), *plain = NULL;
    mq_seal_header h;
    mq_error e;
    unsigned char *out = NULL;

    *len = 0;
    if (in == NULL)
        return NULL;
    mq_error_clear(&e);
    int rc = mq_seal_read_header(in, "fuzz", &h, &e);
    if (rc == 0)
        rc = mq_seal_open(&plain, in, "fuzz", &h, key.key, &e);
    fclose(in);
    if (rc != 0) {
        /* 1. */
        if ((rc != MQ_EINVAL && rc != MQ_EIO) || e.message[0] == '\0')
            fuzz_fail("a sealed file is refused with %d: \"%s\"", rc, e.message);
        if (plain != NULL)
            fuzz_fail("a refused file handed back plaintext");
        return NULL;
    }
    if (strcmp(h.office, key.office) != 0 || strcmp(h.device, key.device) != 0)
        fuzz_fail("a file of office %s, device %s opened with the key of %s, %s",
                  h.office, h.device, key.office, key.device);
    out = malloc(h.length + 1);
    if (out == NULL)
        fuzz_fail("out of memory");
    *len = fread(out, 1, h.length + 1, plain);
    fclose(plain);
    /* 2. */
    if (*len != h.length)
        fuzz_fail("%zu bytes opened, the header says %llu", *len,
                  (unsigned long long)h.length);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t len;
    unsigned char *plain = open_bytes(data, size, &len);
    if (plain == NULL)
        return 0;

    /* 3. */
    uint8_t *copy = malloc(size);
    if (copy == NULL)
        fuzz_fail("out of memory");
    memcpy(copy, data, size);
    size_t at = (size_t)plain[len / 2 < len ? len / 2 : 0] * 7919u % size;
    if (len == 0)
        at = size / 2;
    copy[at] ^= (uint8_t)(1u << (at % 8));
    size_t flen;
    unsigned char *flipped = open_bytes(copy, size, &flen);
    if (flipped != NULL)
        fuzz_fail("bit %zu of byte %zu flipped, and the file still opens", at % 8, at);
    free(copy);

    /* 4. */
    FILE *p = fuzz_stream(plain, len), *sealed = tmpfile();
    mq_error e;
    if (sealed == NULL)
        fuzz_fail("no temporary file");
    if (p == NULL) /* an empty bundle: nothing to read back */
        p = tmpfile();
    if (p == NULL || mq_seal_write(sealed, p, &key, 1, &e) != 0)
        fuzz_fail("the opened bundle cannot be sealed again: %s", e.message);
    fclose(p);
    long n = ftell(sealed);
    uint8_t *again = n > 0 ? malloc((size_t)n) : NULL;
    rewind(sealed);
    if (again == NULL || fread(again, 1, (size_t)n, sealed) != (size_t)n)
        fuzz_fail("cannot read the sealed copy back");
    fclose(sealed);
    size_t alen;
    unsigned char *back = open_bytes(again, (size_t)n, &alen);
    if (back == NULL || alen != len || memcmp(back, plain, len) != 0)
        fuzz_fail("sealed again, %zu bytes open as %zu other bytes", len, alen);
    free(back);
    free(again);
    free(plain);
    return 0;
}
