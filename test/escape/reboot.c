// reboot(2) with a wrong second magic number: the kernel checks
// CAP_SYS_BOOT first (EPERM) and the magic after (EINVAL), so the probe
// never reboots anything.
#include "report.h"
#include <linux/reboot.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
	long r = syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, 0x12345678, LINUX_REBOOT_CMD_CAD_OFF, NULL);
	if (r == 0) escaped("reboot(2) succeeded");
	if (errno == EINVAL) escaped("reboot(2) passed the CAP_SYS_BOOT check (only the bad magic number stopped it)");
	blocked("reboot(2)", errno);
}
