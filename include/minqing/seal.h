/*
 * minqing/seal.h - sealed bundles: a bundle (docs/STORE.md, "Bundles")
 * encrypted and authenticated for one office and one device, so that a
 * bundle carried on a USB stick discloses nothing when the stick is lost,
 * and a flipped bit, a cut, a forgery or a bundle sealed for another office
 * is refused whole before any change reaches a store (docs/BUNDLES.md).
 *
 * A sealed file is one line of header in clear, then the ciphertext, then a
 * 16-byte tag:
 *
 *   minqing-sealed-bundle 1 office=O device=D seq=N length=L salt=S nonce=C\n
 *   <L bytes: the bundle under AES-256-GCM> <16 bytes: the GCM tag>
 *
 * The key of one bundle is HKDF-SHA256 of the device's bundle key (32 random
 * bytes made at enrolment) with the header's random salt; the header line,
 * byte for byte, is the cipher's additional data, so none of it can be
 * changed without the tag failing.
 *
 * Sealing reads a plain bundle from a stream and writes the sealed file;
 * opening checks the tag over the whole file before it hands back a single
 * byte: the plain bundle goes to an anonymous temporary file (tmpfile(),
 * gone when closed or when the process dies) and is returned only once the
 * tag has matched, so memory stays flat whatever the bundle's size.
 *
 * Errors: MQ_EINVAL (domain minqing) for a file that is not a whole sealed
 * bundle or does not authenticate, the message naming what is wrong;
 * MQ_EIO for a stream that cannot be read or written; MQ_ENOMEM.  Strings
 * handed in are borrowed for the call; the FILE handed back by
 * mq_seal_open() is the caller's (fclose()).
 *
 * Part of libminqing in every build (the tablet without libcurl seals its
 * bundles too); the code is sync/seal/seal.c, over libcrypto.
 */
#ifndef MINQING_SEAL_H
#define MINQING_SEAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The format of sealed bundles written here (the header's second word). */
#define MQ_SEAL_FORMAT 1
/** A device's bundle key, and each bundle's derived key, in bytes. */
#define MQ_SEAL_KEY_BYTES 32
/** The longest header line, its newline included. */
#define MQ_SEAL_HEADER_MAX 320
/** The most plaintext one bundle may hold (well below GCM's limit). */
#define MQ_SEAL_MAX_LENGTH ((uint64_t)64 << 30)
/** A key as text: "mqk1:" OFFICE ":" DEVICE ":" 64 hex digits, and a NUL. */
#define MQ_SEAL_KEY_TEXT_MAX (5 + 16 + 1 + 64 + 1 + 64 + 1)

/**
 * A device's bundle key with what it is for: the office (the server's
 * epoch, mq_server_epoch()) and the device's name.  Given to the tablet at
 * enrolment as one line of text (mq_seal_key_format()).
 */
typedef struct mq_seal_key {
    char office[17]; /**< 16 lowercase hex digits */
    char device[65]; /**< 1 to 64 characters of [A-Za-z0-9_.-] */
    unsigned char key[MQ_SEAL_KEY_BYTES];
} mq_seal_key;

/** The clear header of a sealed bundle, as read (and authenticated). */
typedef struct mq_seal_header {
    int format;
    char office[17];
    char device[65];
    int64_t seq;     /**< the device's count of sealed bundles, from 1 */
    uint64_t length; /**< bytes of the plain bundle */
    unsigned char salt[32];
    unsigned char nonce[12];
    char line[MQ_SEAL_HEADER_MAX + 1]; /**< the line as read, newline included */
    size_t line_len;
} mq_seal_header;

/**
 * A new random key for device `device` of office `office`.
 * @return 0; MQ_EINVAL for a malformed office or device name; MQ_EIO when
 *         the system's random generator cannot be read
 */
int mq_seal_key_new(mq_seal_key *out, const char *office, const char *device,
                    mq_error *err);

/** Writes `key` as text ("mqk1:OFFICE:DEVICE:HEX") into `out`. */
void mq_seal_key_format(const mq_seal_key *key, char out[MQ_SEAL_KEY_TEXT_MAX]);

/**
 * Reads a key written by mq_seal_key_format(); white space around it is
 * ignored.
 * @return 0, or MQ_EINVAL naming what is wrong (the key itself is never
 *         repeated in a message)
 */
int mq_seal_key_parse(mq_seal_key *out, const char *text, mq_error *err);

/**
 * Seals the plain bundle read from `plain` (from where it stands to its
 * end, read twice: once to measure it, once to seal it, so it must be a
 * file) into `out`, as bundle number `seq` of key->device for key->office.
 * Wipes the derived key before it returns.
 */
int mq_seal_write(FILE *out, FILE *plain, const mq_seal_key *key, int64_t seq,
                  mq_error *err);

/**
 * Reads and checks the header line of a sealed bundle from `in`, leaving
 * `in` at the first byte of the ciphertext.  Checks its form only: the tag
 * is checked by mq_seal_open().  `source` names the file in messages.
 * @return 0; MQ_EINVAL for a file that is not a sealed bundle of a format
 *         this build reads (a plain bundle is told as such), or whose
 *         header is damaged
 */
int mq_seal_read_header(FILE *in, const char *source, mq_seal_header *out, mq_error *err);

/**
 * Opens the rest of `in`, whose header `h` mq_seal_read_header() read, with
 * the device's bundle key.  The file must end right after the tag.
 * @param[out] plain  the plain bundle, rewound, in an anonymous temporary
 *                    file, the caller's (fclose()); NULL on failure
 * @return 0; MQ_EINVAL for a cut file, data after the tag, or a tag that
 *         does not match (a changed byte anywhere, or another key); MQ_EIO
 */
int mq_seal_open(FILE **plain, FILE *in, const char *source, const mq_seal_header *h,
                 const unsigned char key[MQ_SEAL_KEY_BYTES], mq_error *err);

/** Overwrites `n` bytes of secret with zeros, in a way the compiler keeps. */
void mq_seal_wipe(void *p, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* MINQING_SEAL_H */
