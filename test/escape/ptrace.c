// PTRACE_ATTACH to processes outside the container, given by their host
// pids (the daemon, another container's process): they must be out of
// reach (ESRCH in a private pid namespace, EPERM otherwise).
#include "report.h"
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
	int err = 0;
	for (int i = 1; i < argc; i++) {
		pid_t pid = atoi(argv[i]);
		if (ptrace(PTRACE_ATTACH, pid, 0, 0) == 0) {
			waitpid(pid, NULL, __WALL);
			ptrace(PTRACE_DETACH, pid, 0, 0);
			char what[64];
			snprintf(what, sizeof what, "PTRACE_ATTACH to host pid %d", pid);
			escaped(what);
		}
		err = errno;
		step(argv[i], 0, err);
	}
	blocked("PTRACE_ATTACH to every outside pid", err);
}
