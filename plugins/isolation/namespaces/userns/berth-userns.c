// berth-userns: pin namespaces for a container with --userns-remap.
//
//   berth-userns user FILE UID_MAP GID_MAP   a new user namespace with these
//                                            maps ("0 100000 65536", lines as in
//                                            /proc/PID/uid_map), bind-mounted on FILE
//   berth-userns net USERNS_FILE FILE        a new network namespace owned by
//                                            that user namespace, bound on FILE
//   berth-userns idmap USERNS_FILE SRC DST... an idmapped copy of each directory
//                                            SRC (its mount, not recursive) on DST,
//                                            shifted by that namespace's maps
//
// FILE must exist. A helper process because entering or making a user
// namespace needs a single-threaded process, which the daemon (Bun) is not;
// and a network namespace owned by the container's user namespace is what
// lets its root mount sysfs and configure nothing of the host's.
// Errors: a line on stderr, exit 1.
//
//   gcc -Os -static -Wall -Wextra -Werror -o berth-userns berth-userns.c
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what, const char *arg)
{
	dprintf(2, "berth-userns: %s %s: %s\n", what, arg, strerror(errno));
	exit(1);
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		die("write", path);
	close(fd);
}

/* open_tree(2) + mount_setattr(2) + move_mount(2): an idmapped mount. */
static int idmap(int argc, char **argv)
{
	int ns = open(argv[2], O_RDONLY | O_CLOEXEC);
	if (ns < 0)
		die("open", argv[2]);
	for (int i = 3; i + 1 < argc; i += 2) {
		int fd = (int)syscall(SYS_open_tree, AT_FDCWD, argv[i], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		if (fd < 0)
			die("open_tree", argv[i]);
		struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (__u64)ns};
		if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &attr, sizeof attr))
			die("idmap (mount_setattr MOUNT_ATTR_IDMAP)", argv[i]);
		if (syscall(SYS_move_mount, fd, "", AT_FDCWD, argv[i + 1], MOVE_MOUNT_F_EMPTY_PATH))
			die("move_mount to", argv[i + 1]);
		close(fd);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && argc % 2 == 1 && !strcmp(argv[1], "idmap"))
		return idmap(argc, argv);
	int user = argc == 5 && !strcmp(argv[1], "user");
	if (!user && !(argc == 4 && !strcmp(argv[1], "net"))) {
		dprintf(2, "usage: berth-userns user FILE UID_MAP GID_MAP | net USERNS_FILE FILE | idmap USERNS_FILE SRC DST...\n");
		return 2;
	}
	int ready[2], done[2];
	if (pipe(ready) || pipe(done))
		die("pipe", "");
	pid_t pid = fork();
	if (pid < 0)
		die("fork", "");
	if (pid == 0) {
		close(ready[0]);
		close(done[1]);
		if (user) {
			if (unshare(CLONE_NEWUSER))
				die("unshare", "user namespace");
		} else {
			int fd = open(argv[2], O_RDONLY | O_CLOEXEC);
			if (fd < 0 || setns(fd, CLONE_NEWUSER))
				die("join user namespace", argv[2]);
			if (unshare(CLONE_NEWNET))
				die("unshare", "network namespace");
		}
		char c = 1;
		if (write(ready[1], &c, 1) != 1)
			_exit(1);
		/* stay until the parent has pinned the namespace */
		if (read(done[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(ready[1]);
	close(done[0]);
	char c;
	if (read(ready[0], &c, 1) != 1) { /* the child said why on stderr */
		waitpid(pid, NULL, 0);
		return 1;
	}
	char path[64];
	int rc = 0;
	if (user) {
		snprintf(path, sizeof path, "/proc/%d/uid_map", (int)pid);
		write_file(path, argv[3]);
		snprintf(path, sizeof path, "/proc/%d/gid_map", (int)pid);
		write_file(path, argv[4]);
	}
	snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)pid, user ? "user" : "net");
	const char *target = user ? argv[2] : argv[3];
	if (mount(path, target, NULL, MS_BIND, NULL)) {
		dprintf(2, "berth-userns: bind %s on %s: %s\n", path, target, strerror(errno));
		rc = 1;
	}
	close(done[1]);
	waitpid(pid, NULL, 0);
	return rc;
}
