/*
 * tests/core/test_hlc.c - the hybrid logical clock and version strings.
 */
#include "harness.h"
#include "hlc.h"
#include "minqing/valid.h"

static void test_monotonic(void)
{
    mq_hlc h = {0};
    uint64_t a = mq__hlc_tick(&h, 1000);
    uint64_t b = mq__hlc_tick(&h, 1000); /* same millisecond */
    uint64_t c = mq__hlc_tick(&h, 900);  /* the wall clock went back */
    uint64_t d = mq__hlc_tick(&h, 2000);

    CHECK(a < b && b < c && c < d);
    CHECK(mq__hlc_ms(a) == 1000);
    CHECK(mq__hlc_ms(c) == 1000); /* never reads earlier than it was */
    CHECK(mq__hlc_ms(d) == 2000);
}

static void test_observe(void)
{
    mq_hlc h = {0};
    uint64_t remote = (uint64_t)5000 << 16 | 7;

    mq__hlc_tick(&h, 1000);
    mq__hlc_observe(&h, remote, 1000);
    /* a change made after seeing another sorts after it, whatever our clock */
    CHECK(mq__hlc_tick(&h, 1000) > remote);
    mq__hlc_observe(&h, 1, 1000); /* an older value changes nothing */
    CHECK(mq__hlc_tick(&h, 1000) > remote + 1);
}

static void test_future_clock_is_capped(void)
{
    mq_hlc h = {0};
    const int64_t now = 1700000000000LL, days = 3LL * 86400 * 1000;
    uint64_t future = (uint64_t)(now + days) << 16;

    mq__hlc_observe(&h, future, now);
    uint64_t next = mq__hlc_tick(&h, now);
    /* pulled at most MQ_HLC_MAX_AHEAD_MS ahead, not three days */
    CHECK(mq__hlc_ms(next) <= now + MQ_HLC_MAX_AHEAD_MS + 1);
    CHECK(mq__hlc_ms(next) >= now);
    /* within the bound, a remote clock is followed */
    mq_hlc k = {0};
    uint64_t near = (uint64_t)(now + 5000) << 16;
    mq__hlc_observe(&k, near, now);
    CHECK(mq__hlc_tick(&k, now) > near);
}

static void test_versions(void)
{
    char a[MQ_VERSION_MAX], b[MQ_VERSION_MAX], c[MQ_VERSION_MAX];
    uint64_t clock;
    size_t at;

    mq__version_format(a, 0x10, "tabB");
    mq__version_format(b, 0x10, "tabC");
    mq__version_format(c, 0x100, "tabA");
    CHECK_STR(a, "0000000000000010-tabB");
    /* byte order is clock order, then site order */
    CHECK(strcmp(a, b) < 0 && strcmp(b, c) < 0);
    CHECK(mq__version_parse(c, &clock, &at) == 0 && clock == 0x100 && at == 17);
    CHECK(mq__version_parse("000000000000010-tabB", NULL, NULL) != 0);
    CHECK(mq__version_parse("000000000000001G-tabB", NULL, NULL) != 0);
    CHECK(mq__version_parse("0000000000000010-", NULL, NULL) != 0);
    CHECK(mq__version_parse("0000000000000010-tab B", NULL, NULL) != 0);
    CHECK(!mq_valid_name("a-site-name-that-is-longer-than-32", MQ_SITE_MAX));
}

static void test_iso(void)
{
    char out[MQ_ISO_MAX];

    mq__iso_time(out, 0);
    CHECK_STR(out, "1970-01-01T00:00:00.000Z");
    mq__iso_time(out, 1330473600123LL); /* 2012-02-29 */
    CHECK_STR(out, "2012-02-29T00:00:00.123Z");
}

int main(void)
{
    RUN(test_monotonic);
    RUN(test_observe);
    RUN(test_future_clock_is_capped);
    RUN(test_versions);
    RUN(test_iso);
    return mq_test_done();
}
