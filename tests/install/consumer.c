/*
 * tests/install/consumer.c - a host program built against the installed
 * libminqing, as a third party would build it: it includes only
 * <minqing/minqing.h> and <minqing/seal.h>, opens a new store, gives it a
 * site, puts one area record and reads it back through the public API, and
 * makes a device's bundle key and reads it back from its text.
 *
 * Run as `consumer DB VERSION`: DB must not exist yet, VERSION is the
 * project's version, which the installed minqing/version.h must carry.
 * Prints "ok VERSION ID" and exits 0, or says what failed and exits 1.
 */
#include <minqing/minqing.h>
#include <minqing/seal.h>

#include <stdio.h>
#include <string.h>

static int failed(const char *what, const mq_error *err)
{
    fprintf(stderr, "consumer: %s: %s\n", what, err->message);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: consumer DB VERSION\n");
        return 2;
    }
    if (strcmp(MQ_VERSION_STRING, argv[2]) != 0) {
        fprintf(stderr, "consumer: minqing/version.h says %s, the project is %s\n",
                MQ_VERSION_STRING, argv[2]);
        return 1;
    }

    mq_error err;
    mq_error_clear(&err);
    mq_store *store = NULL;
    if (mq_store_open(&store, argv[1], &err) != 0)
        return failed("open", &err);

    int rc = 1;
    char *id = NULL;
    char *json = NULL;
    if (mq_store_init(store, "install-test", NULL, &err) != 0) {
        failed("init", &err);
        goto done;
    }
    if (mq_store_put(store, "area", NULL, "{\"name\":\"青山镇\",\"level\":\"township\"}",
                     NULL, &id, &err) != 0) {
        failed("put", &err);
        goto done;
    }
    if (mq_store_get(store, id, &json, &err) != 0) {
        failed("get", &err);
        goto done;
    }
    if (strstr(json, id) == NULL || strstr(json, "青山镇") == NULL ||
        strstr(json, "township") == NULL) {
        fprintf(stderr, "consumer: get %s gave back %s\n", id, json);
        goto done;
    }
    /* An unknown id is MQ_ENOTFOUND, with the details in err. */
    char *none = NULL;
    int missing =
        mq_store_get(store, "00000000-0000-4000-8000-000000000000", &none, &err);
    if (missing != MQ_ENOTFOUND) {
        fprintf(stderr,
                "consumer: get of an unknown id returned %d (%s), not MQ_ENOTFOUND\n",
                missing, mq_strerror(missing));
        mq_free(none);
        goto done;
    }
    /* A device's bundle key survives its text (what a tablet is given). */
    mq_seal_key key, back;
    char text[MQ_SEAL_KEY_TEXT_MAX];
    if (mq_seal_key_new(&key, "0123456789abcdef", "tab-1", &err) != 0) {
        failed("seal key", &err);
        goto done;
    }
    mq_seal_key_format(&key, text);
    if (mq_seal_key_parse(&back, text, &err) != 0) {
        failed("seal key text", &err);
        goto done;
    }
    if (memcmp(back.key, key.key, MQ_SEAL_KEY_BYTES) != 0 ||
        strcmp(back.device, "tab-1") != 0) {
        fprintf(stderr, "consumer: a bundle key read back from its text differs\n");
        goto done;
    }
    mq_seal_wipe(key.key, sizeof key.key);
    mq_seal_wipe(back.key, sizeof back.key);
    printf("ok %s %s\n", MQ_VERSION_STRING, id);
    rc = 0;
done:
    mq_free(json);
    mq_free(id);
    mq_store_close(store);
    return rc;
}
