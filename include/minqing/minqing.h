/*
 * minqing/minqing.h - everything a front end needs, in one include.
 *
 * minqing keeps livelihood registration cards (民情登记卡) and everything
 * around them on an offline replica, and merges replicas without losing an
 * entry.  See docs/ARCHITECTURE.md for the parts and docs/STORE.md for the
 * merge rules.
 */
#ifndef MINQING_H
#define MINQING_H

#include "error.h"
#include "store.h"
#include "valid.h"
#include "minqing/version.h" /* generated into the build tree */

#endif /* MINQING_H */
