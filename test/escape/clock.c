// Set the system clock (to the time it already is, so a success changes
// nothing): clock_settime(CLOCK_REALTIME) and settimeofday need CAP_SYS_TIME.
#include "report.h"
#include <sys/time.h>
#include <time.h>

int main(void) {
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	if (clock_settime(CLOCK_REALTIME, &now) == 0) escaped("clock_settime(CLOCK_REALTIME) succeeded");
	int e = errno;
	step("clock_settime", 0, e);
	struct timeval tv;
	gettimeofday(&tv, NULL);
	if (settimeofday(&tv, NULL) == 0) escaped("settimeofday succeeded");
	step("settimeofday", 0, errno);
	blocked("clock_settime and settimeofday", e);
}
