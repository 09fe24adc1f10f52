// The kernel keyring is not namespaced: a container that can use keyctl(2)
// shares root's keys with the host. Docker's seccomp profile refuses
// keyctl, add_key and request_key.
#include "report.h"
#include <sys/syscall.h>
#include <unistd.h>

#define KEYCTL_JOIN_SESSION_KEYRING 1
#define KEY_SPEC_SESSION_KEYRING -3

int main(void) {
	long r = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, "berth-escape-test");
	if (r < 0) {
		int e = errno;
		long a = syscall(SYS_add_key, "user", "berth-escape-test", "x", 1, KEY_SPEC_SESSION_KEYRING);
		if (a < 0) blocked("keyctl(KEYCTL_JOIN_SESSION_KEYRING) and add_key", e);
		escaped("add_key succeeded");
	}
	escaped("keyctl(KEYCTL_JOIN_SESSION_KEYRING) made a session keyring");
}
