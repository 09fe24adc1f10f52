// Load a kernel module: finit_module on a file and init_module on a buffer.
// Both need CAP_SYS_MODULE in the host's user namespace (ENOSYS on a kernel
// without module support).
#include "report.h"
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
	int fd = open("/bin/busybox", O_RDONLY);
	long r = syscall(SYS_finit_module, fd, "", 0);
	if (r == 0) escaped("finit_module succeeded");
	int e = errno;
	step("finit_module", 0, e);
	static char elf[64] = "\x7f" "ELF";
	r = syscall(SYS_init_module, elf, sizeof elf, "");
	if (r == 0) escaped("init_module succeeded");
	// EPERM is the capability check; anything else means the kernel looked at the module.
	if (errno != EPERM && errno != ENOSYS) escaped("init_module got past the capability check");
	blocked("finit_module and init_module", e);
}
