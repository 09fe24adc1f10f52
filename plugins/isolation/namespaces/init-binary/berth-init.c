/*
 * berth-init: PID 1 of a container started with --init (compose's
 * `init: true`), as docker-init (tini) is for Docker. It runs the command
 * as its child, forwards every signal it gets to it, reaps every zombie
 * (orphans are re-parented to PID 1), and exits as the command did: its
 * exit code, or 128 + the signal that killed it.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  int first = (argc > 1 && strcmp(argv[1], "--") == 0) ? 2 : 1;
  if (first >= argc) {
    fprintf(stderr, "berth-init: usage: berth-init [--] COMMAND [ARG...]\n");
    return 2;
  }
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  pid_t child = fork();
  if (child < 0) {
    perror("berth-init: fork");
    return 1;
  }
  if (child == 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    execvp(argv[first], argv + first);
    fprintf(stderr, "berth-init: exec %s: %s\n", argv[first], strerror(errno));
    _exit(errno == ENOENT ? 127 : 126);
  }
  for (;;) {
    struct timespec tick = {1, 0};
    int sig = sigtimedwait(&all, NULL, &tick);
    if (sig > 0 && sig != SIGCHLD) kill(child, sig);
    for (;;) {
      int status;
      pid_t p = waitpid(-1, &status, WNOHANG);
      if (p <= 0) break;
      if (p == child) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
  }
}
