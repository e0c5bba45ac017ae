/*
 * tests/install/consumer.c - a host program built against the installed
 * libminqing, as a third party would build it: it includes only
 * <minqing/minqing.h>, opens a new store, gives it a site, puts one area
 * record and reads it back through the public API.
 *
 * Run as `consumer DB VERSION`: DB must not exist yet, VERSION is the
 * project's version, which the installed minqing/version.h must carry.
 * Prints "ok VERSION ID" and exits 0, or says what failed and exits 1.
 */
#include <minqing/minqing.h>

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
    printf("ok %s %s\n", MQ_VERSION_STRING, id);
    rc = 0;
done:
    mq_free(json);
    mq_free(id);
    mq_store_close(store);
    return rc;
}
