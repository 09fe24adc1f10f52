// Shared by the escape attempts: each prints one "RESULT blocked ERRNO what"
// or "RESULT escaped what" line, which test/security-escape.test.ts reads.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((unused)) static void blocked(const char *what, int err) {
	printf("RESULT blocked %s %s: %s\n", strerrorname_np(err) ? strerrorname_np(err) : "E?", what, strerror(err));
	exit(0);
}

__attribute__((unused)) static void escaped(const char *what) {
	printf("RESULT escaped %s\n", what);
	exit(0);
}

__attribute__((unused)) static void step(const char *what, int ok, int err) {
	printf("step %s: %s\n", what, ok ? "ok" : strerror(err));
	fflush(stdout);
}
