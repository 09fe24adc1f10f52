// CVE-2019-5736: while the runtime execs into the container, open the
// executable of every process this container can see (/proc/PID/exe) and
// try to reopen it for writing. Nothing is ever written: a successful open
// for writing is reported and closed. Prints each distinct file reached as
// "exe PID DEV INO write:RESULT LINK". Also looks through every thread's
// root (/proc/PID/task/TID/root): a thread of the runtime still in the
// host's mount namespace would show the host's files; it prints
// "root PID TID DEV INO marker:yes|no" for a root that is not the
// container's, where MARKER is a host path the test made.
// Usage: exe-watch SECONDS MARKER
#define _GNU_SOURCE
#include "report.h"
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
	int seconds = argc > 1 ? atoi(argv[1]) : 5;
	const char *marker = argc > 2 ? argv[2] : "/nonexistent";
	struct stat myroot;
	stat("/", &myroot);
	int roots = 0;
	time_t end = time(NULL) + seconds;
	struct stat self;
	stat("/proc/self/exe", &self);
	struct { dev_t dev; ino_t ino; } seen[256];
	int nseen = 0;
	printf("ready\n");
	fflush(stdout);
	while (time(NULL) < end) {
		DIR *d = opendir("/proc");
		struct dirent *e;
		while (d && (e = readdir(d))) {
			if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
			char path[300];
			snprintf(path, sizeof path, "/proc/%s/exe", e->d_name);
			int fd = open(path, O_RDONLY);
			if (fd < 0) continue;
			// Reaching its exe means reaching the process: look at its threads' roots now.
			char tdir[300];
			snprintf(tdir, sizeof tdir, "/proc/%s/task", e->d_name);
			DIR *td = opendir(tdir);
			struct dirent *te;
			while (td && roots < 64 && (te = readdir(td))) {
				if (te->d_name[0] < '0' || te->d_name[0] > '9') continue;
				char rpath[700];
				snprintf(rpath, sizeof rpath, "%s/%s/root", tdir, te->d_name);
				struct stat rs;
				if (stat(rpath, &rs) || (rs.st_dev == myroot.st_dev && rs.st_ino == myroot.st_ino)) continue;
				char mpath[1200];
				snprintf(mpath, sizeof mpath, "%s%s", rpath, marker);
				printf("root %s %s %lu %lu marker:%s\n", e->d_name, te->d_name, (unsigned long)rs.st_dev, (unsigned long)rs.st_ino, access(mpath, F_OK) == 0 ? "yes" : "no");
				fflush(stdout);
				roots++;
			}
			if (td) closedir(td);

			struct stat st;
			fstat(fd, &st);
			int known = st.st_dev == self.st_dev && st.st_ino == self.st_ino;
			for (int i = 0; i < nseen && !known; i++) known = seen[i].dev == st.st_dev && seen[i].ino == st.st_ino;
			if (!known && nseen < 256) {
				seen[nseen].dev = st.st_dev;
				seen[nseen++].ino = st.st_ino;
				char link[512] = "", re[64];
				readlink(path, link, sizeof link - 1);
				snprintf(re, sizeof re, "/proc/self/fd/%d", fd);
				int w = open(re, O_WRONLY);
				int err = errno;
				if (w >= 0) close(w);
				printf("exe %s %lu %lu write:%s %s\n", e->d_name, (unsigned long)st.st_dev, (unsigned long)st.st_ino, w >= 0 ? "OPENED" : strerrorname_np(err), link);
				fflush(stdout);
			}
			close(fd);
		}
		if (d) closedir(d);
	}
	printf("done\n");
	return 0;
}
