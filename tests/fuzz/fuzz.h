/*
 * tests/fuzz/fuzz.h - what the fuzz targets share.
 *
 * Each target is one LLVMFuzzerTestOneInput() (and LLVMFuzzerInitialize())
 * built twice: with libFuzzer (-fsanitize=fuzzer) in a clang tree with
 * MQ_FUZZ=ON, and with replay.c, a main() that runs every file of the
 * target's corpus and regression folders, in every build.  A target reports
 * a broken invariant with fuzz_fail(), which aborts: libFuzzer then keeps
 * the input as a crash, and the replay test fails naming it.
 *
 * The stores are in memory (":memory:"), so nothing is synced to a disk.
 * Each input gets a new store (under a millisecond, base included), so
 * that every input starts from the same state and its commits are real; a
 * target that needs records to refer to starts from the base bundle (areas
 * and cadres, made by make_corpus.sh).
 */
#ifndef MQ_FUZZ_H
#define MQ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "minqing/minqing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/** Prints "fuzz: " and the message on stderr and aborts. */
_Noreturn void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/** The input as a NUL-terminated string (cut at its first NUL byte by C's
 *  string functions); the caller frees it. */
char *fuzz_text(const uint8_t *data, size_t size);

/** A stream that reads the input's bytes, NULs included; NULL for no bytes. */
FILE *fuzz_stream(const uint8_t *data, size_t size);

/** A new replica in memory, initialised with `site`. */
mq_store *fuzz_store(const char *site);

/**
 * A new replica in memory with the base bundle applied: the areas and
 * cadres of tests/fuzz/base.bundle, which the seeds refer to.
 */
mq_store *fuzz_base_store(const char *site);

/** The ids of the base bundle's areas, from the top (county) down. */
extern const char *const fuzz_county, *const fuzz_township, *const fuzz_village,
                                                                *const fuzz_group;

/** The text of tests/fuzz/base.bundle, read once; `*len` its bytes. */
const char *fuzz_base_bundle(size_t *len);

/** How many changes the store's log holds. */
size_t fuzz_log_size(mq_store *s);

/**
 * Fails unless mq_store_check() finds the store sound: every record equal to
 * the state folded from its changes.  `after` says what was just done.
 */
void fuzz_check(mq_store *s, const char *after);

/** 1 when the `n` bytes of `text` are well-formed UTF-8 (RFC 3629), else 0. */
int fuzz_utf8_ok(const char *text, size_t n);

#endif /* MQ_FUZZ_H */
