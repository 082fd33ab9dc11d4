/* What the load generators share (tests/support/connloop.c, tests/bench/churn.c and
 * tests/bench/sockfarm.c): a strict number parser for their options and a monotonic clock.
 * Header-only, so each generator still builds from its one C file with one cc command. */
#ifndef CONNWATCH_TESTS_LOADGEN_H_
#define CONNWATCH_TESTS_LOADGEN_H_

#include <errno.h>
#include <stdlib.h>
#include <time.h>

/* `text` as a whole decimal number within [min, max] into *out: 0, else -1. */
static inline int parse_long(const char *text, long min, long max, long *out) {
  char *end = NULL;
  errno = 0;
  long value = strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value < min || value > max) return -1;
  *out = value;
  return 0;
}

/* CLOCK_MONOTONIC in seconds. */
static inline double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif /* CONNWATCH_TESTS_LOADGEN_H_ */
