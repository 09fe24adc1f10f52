// unshare(CLONE_NEWUSER) to get a full capability set in a new user
// namespace, then use it: a new mount namespace and a tmpfs mount.
// Docker's seccomp profile refuses the unshare without CAP_SYS_ADMIN.
#include "report.h"
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static int writeFile(const char *path, const char *s) {
	int fd = open(path, O_WRONLY);
	if (fd < 0) return -1;
	int n = write(fd, s, strlen(s));
	close(fd);
	return n < 0 ? -1 : 0;
}

int main(void) {
	if (unshare(CLONE_NEWUSER)) blocked("unshare(CLONE_NEWUSER)", errno);
	step("unshare(CLONE_NEWUSER)", 1, 0);
	writeFile("/proc/self/setgroups", "deny");
	step("uid_map", writeFile("/proc/self/uid_map", "0 0 1") == 0, errno);
	char status[4096] = "";
	int fd = open("/proc/self/status", O_RDONLY);
	if (fd >= 0) {
		int n = read(fd, status, sizeof status - 1);
		status[n > 0 ? n : 0] = 0;
		close(fd);
	}
	char *eff = strstr(status, "CapEff:");
	if (eff) printf("step %.*s\n", (int)(strchr(eff, '\n') - eff), eff);
	if (unshare(CLONE_NEWNS)) escaped("unshare(CLONE_NEWUSER) succeeded (a full capability set in the new namespace); CLONE_NEWNS then failed");
	mkdir("/tmp/userns-mnt", 0755);
	if (mount("none", "/tmp/userns-mnt", "tmpfs", 0, NULL)) escaped("unshare(CLONE_NEWUSER|CLONE_NEWNS) succeeded; the tmpfs mount failed");
	escaped("unshare(CLONE_NEWUSER) gave CAP_SYS_ADMIN in a new user namespace: mounted a tmpfs");
}
