/*
 * core/names.c - the name and id rules of minqing/valid.h.  Pure functions
 * of their arguments, shared by core, sync and the front ends.
 */
#include "minqing/valid.h"

int mq_valid_name(const char *s, size_t max)
{
    size_t n = 0;

    if (s == NULL)
        return 0;
    for (const char *p = s; *p != '\0'; p++, n++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
        if (!ok || n >= max)
            return 0;
    }
    return n > 0;
}

int mq_valid_uuid(const char *s)
{
    if (s == NULL)
        return 0;
    for (int i = 0; i < 36; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return 0;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return 0;
        }
    }
    return s[36] == '\0';
}
