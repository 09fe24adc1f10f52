// berth-monitor: the per-container (and per-exec) monitor.
//
// It holds COMMAND's stdio, writes Docker json-file logs, serves attach
// clients on DIR/attach.sock, takes control lines on the DIR/ctl FIFO and
// records the exit status in DIR/exit.json, so a container outlives its
// daemon. Small, static, single-threaded, poll(2)-driven; it never blocks on
// a client. See monitor.ts for the protocol as the daemon sees it.
//
// Besides the brief's files, DIR holds monitor.pid (for adopting a monitor).
// A setup failure before the ready line prints {"error":"..."} instead of it
// and exits 125. Once COMMAND has exited, output still open (a background
// process holding the pipe or pty) is read until 1 s of silence, 5 s at most;
// with --buffer-until-attach and output nobody took yet, the monitor then
// waits up to 30 s for a client asking for output. attach.sock and ctl are
// unlinked before the clients are closed, so that a watcher's EOF means the
// directory is free for a new monitor.
//
//   gcc -Os -static -Wall -Wextra -Werror -o berth-monitor monitor.c
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

#define CHUNK 65536                 /* one read of COMMAND's output */
#define MSG_MAX 16384               /* json-file: a message ends at "\n" or here */
#define CLIENT_MAX (1u << 20)       /* unsent output that gets a client dropped */
#define HOLD_MAX (1u << 20)         /* --buffer-until-attach keeps this much */
#define STDIN_HIGH 65536            /* stop reading stdin clients above this */
#define MAX_CLIENTS 1024
#define DRAIN_IDLE_MS 1000          /* after exit: give up on open pipes after this much silence */
#define DRAIN_MAX_MS 5000           /*   ... or this long after the exit */
#define LINGER_MS 30000             /* --buffer-until-attach: wait this long for the attach after exit */
#define FLUSH_MS 5000               /* at the end: time given to clients to take what is left */

/* ---------------------------------------------------------------- options */

static const char *opt_dir, *opt_log, *opt_pidns;
static const char *opt_userns, *opt_netns;  /* --userns, --netns: joined (as host root) before COMMAND runs */
static const char *cgroup_join[16];         /* --cgroup-join: cgroup.procs files COMMAND is put in */
static int n_cgroup_join;
static struct { int resource; struct rlimit lim; } rlimits[16]; /* --rlimit: set before the user namespace */
static int n_rlimits;
static unsigned long long opt_max_size;
static long opt_max_files = 1;
static int opt_tty, opt_stdin, opt_stdin_once, opt_gate, opt_hold;
static int opt_console_fd = -1; /* --console-fd: COMMAND opens the terminal and sends its master here */
static int clone_flags;
static int pass_fds[64], n_pass;
static char **cmd_argv;

/* Paths live on the heap, sized to fit: every page of memory counts, per container. */
static char *dir, *log_path, *ctl_path, *exit_path, *pid_path;
static char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

/* ---------------------------------------------------------------- helpers */

struct buf {
	char *p;
	size_t off, len, cap; /* live bytes are p[off .. off+len) */
};

static int buf_add(struct buf *b, const void *data, size_t n)
{
	if (b->off + b->len + n > b->cap) {
		if (b->off) {
			memmove(b->p, b->p + b->off, b->len);
			b->off = 0;
		}
		if (b->len + n > b->cap) {
			size_t cap = b->cap ? b->cap : 4096;
			while (cap < b->len + n)
				cap *= 2;
			char *p = realloc(b->p, cap);
			if (!p)
				return -1;
			b->p = p;
			b->cap = cap;
		}
	}
	memcpy(b->p + b->off + b->len, data, n);
	b->len += n;
	return 0;
}

static void buf_consume(struct buf *b, size_t n)
{
	b->off += n;
	b->len -= n;
	if (b->len == 0) {
		b->off = 0;
		if (b->cap > 16384) { /* give memory back after a burst */
			free(b->p);
			b->p = NULL;
			b->cap = 0;
		}
	}
}

static void buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static const char *errstr(int e)
{
	const char *s = strerrordesc_np(e);
	return s ? s : "unknown error";
}

static void die(const char *what, int e);

/* a + b + c, on the heap */
static char *cat3(const char *a, const char *b, const char *c)
{
	size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
	char *p = malloc(la + lb + lc + 1);
	if (!p)
		die("out of memory", 0);
	memcpy(p, a, la);
	memcpy(p + la, b, lb);
	memcpy(p + la + lb, c, lc + 1);
	return p;
}

static void die(const char *what, int e)
{
	/* Before the ready line: tell the spawner, on stdout (machine) and stderr (human). */
	static char msg[1024], line[2048];
	snprintf(msg, sizeof msg, "%s%s%s", what, e ? ": " : "", e ? errstr(e) : "");
	size_t k = 0;
	k += (size_t)snprintf(line, sizeof line, "{\"error\":\"");
	for (const char *s = msg; *s && k < sizeof line - 16; s++) {
		if (*s == '"' || *s == '\\')
			line[k++] = '\\';
		line[k++] = (unsigned char)*s < 0x20 ? '?' : *s;
	}
	k += (size_t)snprintf(line + k, sizeof line - k, "\"}\n");
	write_all(1, line, k);
	dprintf(2, "berth-monitor: %s\n", msg);
	exit(125);
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* RFC 3339 with 9 fractional digits, UTC; no gmtime (it would load tz data). */
static size_t fmt_time(char *out, const struct timespec *ts)
{
	int64_t secs = ts->tv_sec, z = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
	int64_t sod = secs - z * 86400;
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	unsigned d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
	long long y = (long long)yoe + era * 400 + (m <= 2);
	return (size_t)sprintf(out, "%04lld-%02u-%02uT%02d:%02d:%02d.%09ldZ", y, m, d, (int)(sod / 3600),
			       (int)(sod / 60 % 60), (int)(sod % 60), ts->tv_nsec);
}

/* Length of the valid UTF-8 sequence at s (2..4), or 0: Go's utf8.DecodeRune rules. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xBF;
	size_t len;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t k = 2; k < len; k++)
		if (s[k] < 0x80 || s[k] > 0xBF)
			return 0;
	return len;
}

/* Escape as Go's encoding/json does (HTML-safe). out needs 6*n bytes. */
static size_t json_escape(char *out, const unsigned char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char *o = out;
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		if (c < 0x80) {
			i++;
			if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&') {
				*o++ = (char)c;
				continue;
			}
			*o++ = '\\';
			switch (c) {
			case '"': case '\\': *o++ = (char)c; break;
			case '\n': *o++ = 'n'; break;
			case '\r': *o++ = 'r'; break;
			case '\t': *o++ = 't'; break;
			case '\b': *o++ = 'b'; break;
			case '\f': *o++ = 'f'; break;
			default:
				memcpy(o, "u00", 3);
				o[3] = hex[c >> 4];
				o[4] = hex[c & 15];
				o += 5;
			}
			continue;
		}
		size_t len = utf8_len(s + i, n - i);
		if (!len) {
			memcpy(o, "\\ufffd", 6);
			o += 6;
			i++;
		} else if (len == 3 && c == 0xE2 && s[i + 1] == 0x80 && (s[i + 2] == 0xA8 || s[i + 2] == 0xA9)) {
			memcpy(o, s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
			o += 6;
			i += 3;
		} else {
			memcpy(o, s + i, len);
			o += len;
			i += len;
		}
	}
	return (size_t)(o - out);
}

/* Write path atomically: temp file, fsync, rename. */
static int write_atomic(const char *path, const char *data, size_t n)
{
	char *tmp = cat3(path, ".tmp", "");
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), bad = fd < 0;
	if (fd >= 0) {
		bad = write_all(fd, data, n) || fsync(fd);
		close(fd);
	}
	if (!bad && rename(tmp, path))
		bad = 1;
	if (bad)
		unlink(tmp);
	free(tmp);
	return bad ? -1 : 0;
}

/* ------------------------------------------------------------------ state */

enum { GATED, RUNNING, DRAINING, LINGER };
static int state;

static int lfd = -1, ctlfd = -1, sigfd = -1;
static int outfd[2] = {-1, -1};     /* read ends: [0] stdout (or the pty master), [1] stderr */
static int child_fd[3] = {-1, -1, -1}; /* COMMAND's 0, 1, 2 until it starts */
static int stdin_fd = -1;           /* where stdin goes: the pipe's write end or the pty master */
static int master = -1;
static int console_fd = -1;         /* --console-fd: our end of COMMAND's console socket, until the master arrives */
static int child_console = -1;      /* its other end, COMMAND's fd opt_console_fd */
static struct winsize pending_ws;   /* a resize that came before the master */
static int stdin_closing;           /* close stdin once the pending bytes are written */
static struct buf inbuf;            /* stdin bytes not yet taken by COMMAND */
static mode_t saved_umask;

static pid_t cmd_pid;
static struct timespec started_at;
static int64_t exited_ms, last_out_ms, linger_until;

struct client {
	int fd;
	int mask;        /* -1 until its first byte arrives */
	int rd_eof;
	int stdin_owner; /* --stdin-once: its detach closes stdin */
	struct buf out;
};
static struct client *cl;
static int ncl, capcl;
static int have_owner; /* the first stdin client has been seen */

static int holding;     /* --buffer-until-attach and nobody has taken it yet */
static struct buf hold; /* records: stream byte, 4-byte length, bytes */

/* ---------------------------------------------------------------- the log */

static int logfd = -1;
static unsigned long long log_size;
static char logbuf[256 * 1024];
static size_t loglen;
static char entry[6 * MSG_MAX + 128];
static unsigned char pend[2][MSG_MAX];
static size_t plen[2];
static struct timespec pts[2];

static void log_flush(void)
{
	if (loglen && logfd >= 0 && write_all(logfd, logbuf, loglen) == 0)
		log_size += loglen;
	loglen = 0;
}

static char *log_path_n(long n)
{
	char num[24] = "";
	if (n)
		sprintf(num, ".%ld", n);
	return cat3(log_path, num, "");
}

static void log_rotate(void)
{
	log_flush();
	if (opt_max_files < 2) {
		if (ftruncate(logfd, 0) == 0)
			log_size = 0;
		return;
	}
	for (long i = opt_max_files - 1; i >= 1; i--) {
		char *from = log_path_n(i - 1), *to = log_path_n(i);
		rename(from, to);
		free(from);
		free(to);
	}
	int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640);
	if (fd >= 0) {
		close(logfd);
		logfd = fd;
		log_size = 0;
	}
}

static void log_entry(int s, const unsigned char *text, size_t n, const struct timespec *ts)
{
	size_t k = 0;
	memcpy(entry, "{\"log\":\"", 8);
	k = 8 + json_escape(entry + 8, text, n);
	k += (size_t)sprintf(entry + k, "\",\"stream\":\"%s\",\"time\":\"", s ? "stderr" : "stdout");
	k += fmt_time(entry + k, ts);
	memcpy(entry + k, "\"}\n", 3);
	k += 3;
	if (opt_max_size && log_size + loglen > 0 && log_size + loglen + k > opt_max_size)
		log_rotate();
	if (loglen + k > sizeof logbuf)
		log_flush();
	memcpy(logbuf + loglen, entry, k);
	loglen += k;
}

/* Split output into messages: at each "\n" (kept) or at MSG_MAX bytes. */
static void log_feed(int s, const unsigned char *p, size_t n, const struct timespec *ts)
{
	while (n) {
		if (!plen[s])
			pts[s] = *ts;
		size_t room = MSG_MAX - plen[s], take = n < room ? n : room;
		const unsigned char *nl = memchr(p, '\n', take);
		if (nl)
			take = (size_t)(nl - p) + 1;
		memcpy(pend[s] + plen[s], p, take);
		plen[s] += take;
		p += take;
		n -= take;
		if (nl || plen[s] == MSG_MAX) {
			log_entry(s, pend[s], plen[s], &pts[s]);
			plen[s] = 0;
		}
	}
}

/* ---------------------------------------------------------------- clients */

static void close_stdin(void)
{
	stdin_closing = 1;
	if (stdin_fd < 0 || inbuf.len)
		return;
	if (stdin_fd != master)
		close(stdin_fd);
	stdin_fd = -1; /* with a tty, the master stays: only client input stops */
	buf_free(&inbuf);
}

static void drop_client(struct client *c)
{
	if (c->fd < 0)
		return;
	close(c->fd);
	c->fd = -1;
	buf_free(&c->out);
	if (c->stdin_owner && opt_stdin_once)
		close_stdin();
}

static void client_flush(struct client *c)
{
	while (c->out.len) {
		ssize_t w = send(c->fd, c->out.p + c->out.off, c->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				drop_client(c);
			return;
		}
		buf_consume(&c->out, (size_t)w);
	}
}

/* One chunk of stream s (0 stdout, 1 stderr) to one client: a stdcopy frame, or raw with a tty. */
static void client_send(struct client *c, int s, const char *p, size_t n)
{
	unsigned char hdr[8] = {(unsigned char)(s + 1), 0, 0, 0, (unsigned char)(n >> 24), (unsigned char)(n >> 16),
				(unsigned char)(n >> 8), (unsigned char)n};
	struct iovec iov[2] = {{hdr, 8}, {(void *)p, n}};
	int first = opt_tty ? 1 : 0;
	size_t skip = 0, total = (opt_tty ? 0 : 8) + n;
	if (!c->out.len) { /* fast path: straight to the socket */
		struct msghdr mh = {.msg_iov = iov + first, .msg_iovlen = 2 - (size_t)first};
		ssize_t w;
		do
			w = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		while (w < 0 && errno == EINTR);
		if (w < 0 && errno != EAGAIN) {
			drop_client(c);
			return;
		}
		if (w > 0)
			skip = (size_t)w;
		if (skip == total)
			return;
	}
	if (c->out.len + (total - skip) > CLIENT_MAX) { /* never block on a slow client */
		drop_client(c);
		return;
	}
	for (int i = first; i < 2; i++) {
		size_t len = iov[i].iov_len;
		if (skip >= len) {
			skip -= len;
			continue;
		}
		if (buf_add(&c->out, (char *)iov[i].iov_base + skip, len - skip)) {
			drop_client(c);
			return;
		}
		skip = 0;
	}
}

static int wants(const struct client *c, int s)
{
	return c->fd >= 0 && c->mask > 0 && (c->mask & (s ? 4 : 2));
}

/* Hand the held output to the first client that asked for output. */
static void give_hold(struct client *c)
{
	holding = 0;
	for (size_t i = 0; i + 5 <= hold.len && c->fd >= 0;) {
		unsigned char *r = (unsigned char *)hold.p + hold.off + i;
		uint32_t n;
		memcpy(&n, r + 1, 4);
		if (wants(c, r[0]))
			client_send(c, r[0], (char *)r + 5, n);
		i += 5 + n;
	}
	buf_free(&hold);
}

static void on_output(int s, const char *p, size_t n)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	last_out_ms = mono_ms();
	if (logfd >= 0)
		log_feed(s, (const unsigned char *)p, n, &ts);
	for (int i = 0; i < ncl; i++)
		if (wants(&cl[i], s))
			client_send(&cl[i], s, p, n);
	if (holding && hold.len < HOLD_MAX) {
		size_t take = HOLD_MAX - hold.len > 5 ? HOLD_MAX - hold.len - 5 : 0;
		uint32_t k = (uint32_t)(n < take ? n : take);
		unsigned char r[5] = {(unsigned char)s};
		memcpy(r + 1, &k, 4);
		if (k && buf_add(&hold, r, 5) == 0 && buf_add(&hold, p, k))
			hold.len -= 5;
	}
}

static void stdin_flush(void)
{
	while (stdin_fd >= 0 && inbuf.len) {
		ssize_t w = write(stdin_fd, inbuf.p + inbuf.off, inbuf.len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			buf_free(&inbuf); /* EPIPE: COMMAND closed its stdin */
			break;
		}
		buf_consume(&inbuf, (size_t)w);
	}
	if (stdin_closing)
		close_stdin();
}

static void client_read(struct client *c)
{
	static char tmp[16384];
	while (c->fd >= 0) {
		if (c->mask >= 0 && (c->mask & 1) && inbuf.len >= STDIN_HIGH)
			return;
		ssize_t n = read(c->fd, tmp, sizeof tmp);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				drop_client(c);
			return;
		}
		if (n == 0) {
			c->rd_eof = 1;
			if (c->mask < 0) /* gone before saying what it wanted */
				drop_client(c);
			else if (c->stdin_owner && opt_stdin_once)
				close_stdin();
			return;
		}
		char *p = tmp;
		if (c->mask < 0) {
			c->mask = (unsigned char)*p++;
			n--;
			if ((c->mask & 1) && opt_stdin_once && !have_owner)
				have_owner = c->stdin_owner = 1;
			if (holding && (c->mask & 6))
				give_hold(c);
		}
		if (n > 0 && (c->mask & 1) && (stdin_fd >= 0 || console_fd >= 0) && !stdin_closing)
			buf_add(&inbuf, p, (size_t)n);
		stdin_flush();
	}
}

static void accept_clients(void)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;
		}
		if (ncl >= MAX_CLIENTS) {
			close(fd);
			continue;
		}
		if (ncl == capcl) {
			int cap = capcl ? capcl * 2 : 8;
			struct client *n = realloc(cl, (size_t)cap * sizeof *n);
			if (!n) {
				close(fd);
				continue;
			}
			cl = n;
			capcl = cap;
		}
		struct client *c = &cl[ncl++];
		memset(c, 0, sizeof *c);
		c->fd = fd;
		c->mask = -1;
		client_read(c); /* its mask byte is usually there already */
	}
}

static void compact_clients(void)
{
	int j = 0;
	for (int i = 0; i < ncl; i++)
		if (cl[i].fd >= 0)
			cl[j++] = cl[i];
	ncl = j;
}

/* ---------------------------------------------------------- exit records */

static void write_exit(int code, int sig, const char *error)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	static char buf[8192];
	char a[40], b[40], signame[32] = "null";
	fmt_time(a, &started_at);
	fmt_time(b, &now);
	if (sig) {
		const char *ab = sigabbrev_np(sig);
		if (ab)
			snprintf(signame, sizeof signame, "\"SIG%s\"", ab);
		else
			snprintf(signame, sizeof signame, "\"SIG%d\"", sig);
	}
	size_t k = (size_t)snprintf(buf, sizeof buf,
				    "{\"exitCode\":%d,\"signal\":%s,\"pid\":%d,\"startedAt\":\"%s\",\"finishedAt\":\"%s\",\"error\":",
				    code, signame, (int)cmd_pid, a, b);
	if (error) {
		static char esc[6 * 600];
		size_t n = strlen(error);
		if (n > 600)
			n = 600;
		k += (size_t)snprintf(buf + k, sizeof buf - k, "\"%.*s\"}\n", (int)json_escape(esc, (const unsigned char *)error, n), esc);
	} else
		k += (size_t)snprintf(buf + k, sizeof buf - k, "null}\n");
	write_atomic(exit_path, buf, k);
	state = DRAINING;
	exited_ms = mono_ms();
	buf_free(&inbuf);
	close_stdin();
}

static void close_child_fds(void)
{
	for (int i = 0; i < 3; i++)
		if (child_fd[i] >= 0 && (i == 0 || child_fd[i] != child_fd[i - 1]))
			close(child_fd[i]); /* a tty's slave is all three */
	child_fd[0] = child_fd[1] = child_fd[2] = -1;
	if (child_console >= 0)
		close(child_console);
	child_console = -1;
	for (int i = 0; i < n_pass; i++)
		close(pass_fds[i]);
	n_pass = 0;
}

/* ---------------------------------------------------------------- COMMAND */

struct child_err {
	int stage; /* 0 exec, 1 mount, 2 stdio, 3 cgroup, 4 netns, 5 userns, 6 clone, 7 rlimit */
	int err;
};

/*
 * With --userns: what host root does before it becomes the container's
 * root. The cgroup files and the network namespace are host objects the
 * remapped root may not touch, so they are joined first; then the user
 * namespace (a single-threaded process is needed for that, hence here and
 * not in the Bun init), and root in it. Returns the failed stage, or -1.
 */
static int join_userns(void)
{
	/* Raising a hard limit needs CAP_SYS_RESOURCE of the host's namespace: set them all while host root. */
	for (int i = 0; i < n_rlimits; i++)
		if (setrlimit(rlimits[i].resource, &rlimits[i].lim))
			return 7;
	for (int i = 0; i < n_cgroup_join; i++) {
		int fd = open(cgroup_join[i], O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "0", 1) != 1) {
			int e = errno;
			if (fd >= 0)
				close(fd);
			errno = e;
			return 3;
		}
		close(fd);
	}
	const char *paths[2] = {opt_netns, opt_userns};
	const int types[2] = {CLONE_NEWNET, CLONE_NEWUSER};
	for (int i = 0; i < 2; i++) {
		if (!paths[i])
			continue;
		int fd = open(paths[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, types[i])) {
			int e = errno;
			if (fd >= 0)
				close(fd);
			errno = e;
			return 4 + i;
		}
		close(fd);
	}
	/* Host root is unmapped in the new namespace: become its root (full capabilities there). */
	if (setgroups(0, NULL) || setresgid(0, 0, 0) || setresuid(0, 0, 0))
		return 5;
	return -1;
}

static void child(int errfd)
{
	struct child_err ce = {2, 0};
	sigset_t none;
	sigemptyset(&none);
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			sigaction(s, &dfl, NULL);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (opt_userns && opt_pidns) { /* an exec: its pid namespace was entered by the monitor */
		int stage = join_userns();
		if (stage >= 0) {
			ce.stage = stage;
			goto fail;
		}
	}
	if ((clone_flags & CLONE_NEWNS) && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		ce.stage = 1;
		goto fail;
	}
	for (int i = 0; i < 3; i++)
		if (dup2(child_fd[i], i) < 0)
			goto fail;
	umask(saved_umask);
	if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC))
		for (int fd = 3; fd < 4096; fd++)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
	for (int i = 0; i < n_pass; i++)
		fcntl(pass_fds[i], F_SETFD, 0);
	if (child_console >= 0 && (child_console == opt_console_fd ? fcntl(child_console, F_SETFD, 0) : dup2(child_console, opt_console_fd)) < 0)
		goto fail;
	ce.stage = 0;
	execvp(cmd_argv[0], cmd_argv);
fail:
	ce.err = errno;
	write_all(errfd, (char *)&ce, sizeof ce);
	_exit(127);
}

/*
 * A new container with --userns: its pid, mount, uts and ipc namespaces
 * must be owned by the user namespace, so they are made by a process
 * inside it. This intermediate joins it and clones COMMAND as the
 * monitor's own child (CLONE_PARENT), tells its pid on `pidfd`, and exits.
 */
static void intermediate(int errfd, int pidfd)
{
	struct child_err ce = {0, 0};
	int stage = join_userns();
	pid_t pid = -1;
	if (stage < 0) {
		pid = (pid_t)syscall(SYS_clone, (unsigned long)clone_flags | CLONE_PARENT, 0UL, 0UL, 0UL, 0UL);
		if (pid == 0)
			child(errfd);
		stage = 6;
	}
	if (pid > 0) {
		write_all(pidfd, (char *)&pid, sizeof pid);
		_exit(0);
	}
	ce.stage = stage;
	ce.err = errno;
	write_all(errfd, (char *)&ce, sizeof ce);
	_exit(127);
}

static void start_failed(int code, const char *fmt, const char *arg, int e)
{
	static char msg[1024];
	snprintf(msg, sizeof msg, fmt, arg);
	size_t k = strlen(msg);
	snprintf(msg + k, sizeof msg - k, ": %s", errstr(e));
	close_child_fds();
	write_exit(code, 0, msg);
}

static void start_command(void)
{
	if (state != GATED)
		return;
	state = RUNNING;
	/* Attach clients that connected before "start" get everything: take their masks now. */
	accept_clients();
	for (int i = 0; i < ncl; i++)
		if (cl[i].fd >= 0 && cl[i].mask < 0)
			client_read(&cl[i]);
	clock_gettime(CLOCK_REALTIME, &started_at);
	if (opt_pidns) {
		int fd = open(opt_pidns, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWPID)) {
			int e = errno;
			if (fd >= 0)
				close(fd);
			start_failed(125, "setns %s", opt_pidns, e);
			return;
		}
		close(fd);
	}
	int ep[2];
	if (pipe2(ep, O_CLOEXEC)) {
		start_failed(125, "pipe%s", "", errno);
		return;
	}
	int via = opt_userns && !opt_pidns; /* through an intermediate, see intermediate() */
	int pp[2] = {-1, -1};
	if (via && pipe2(pp, O_CLOEXEC)) {
		close(ep[0]);
		close(ep[1]);
		start_failed(125, "pipe%s", "", errno);
		return;
	}
	pid_t pid = (pid_t)syscall(SYS_clone, (unsigned long)(via ? 0 : clone_flags) | SIGCHLD, 0UL, 0UL, 0UL, 0UL);
	if (pid == 0) {
		if (via)
			intermediate(ep[1], pp[1]);
		child(ep[1]);
	}
	int e = errno;
	close(ep[1]);
	if (pid < 0) {
		close(ep[0]);
		if (via) {
			close(pp[0]);
			close(pp[1]);
		}
		start_failed(125, "clone%s", "", e);
		return;
	}
	if (via) {
		close(pp[1]);
		pid_t grandchild = 0;
		ssize_t k;
		do
			k = read(pp[0], &grandchild, sizeof grandchild);
		while (k < 0 && errno == EINTR);
		close(pp[0]);
		waitpid(pid, NULL, 0);
		pid = k == (ssize_t)sizeof grandchild ? grandchild : 0;
	}
	struct child_err ce;
	ssize_t n;
	do
		n = read(ep[0], &ce, sizeof ce);
	while (n < 0 && errno == EINTR);
	close(ep[0]);
	if (chdir("/")) { /* hold no directory of the spawner's busy */
	}
	if (n == (ssize_t)sizeof ce) { /* it never ran: pid 0, as Docker reports */
		if (pid > 0)
			waitpid(pid, NULL, 0);
		if (ce.stage == 0) {
			int code = ce.err == ENOENT ? 127 : (ce.err == EACCES || ce.err == ENOEXEC || ce.err == EISDIR) ? 126 : 125;
			start_failed(code, "exec %s", cmd_argv[0], ce.err);
		} else {
			static const char *what[] = {"", "make the mount tree private%s", "set up stdio%s", "join the cgroup%s",
						     "join the network namespace%s", "join the user namespace%s", "clone%s", "set the ulimits%s"};
			start_failed(125, what[ce.stage > 0 && ce.stage < 8 ? ce.stage : 2], "", ce.err);
		}
		return;
	}
	cmd_pid = pid;
	close_child_fds();
	char num[16];
	write_atomic(pid_path, num, (size_t)sprintf(num, "%d\n", (int)pid));
}

static void reap(void)
{
	struct signalfd_siginfo si;
	while (read(sigfd, &si, sizeof si) > 0) {
	}
	int st;
	pid_t p;
	while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
		if (p != cmd_pid || state != RUNNING)
			continue;
		if (WIFSIGNALED(st))
			write_exit(128 + WTERMSIG(st), WTERMSIG(st), NULL);
		else
			write_exit(WEXITSTATUS(st), 0, NULL);
	}
}

/* ------------------------------------------------------------ ctl FIFO */

static char ctlbuf[256];
static size_t ctllen;

static void ctl_line(char *line)
{
	unsigned rows, cols;
	if (!strcmp(line, "start"))
		start_command();
	else if (!strcmp(line, "close-stdin"))
		close_stdin();
	else if (sscanf(line, "resize %u %u", &rows, &cols) == 2) {
		struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
		if (master >= 0)
			ioctl(master, TIOCSWINSZ, &ws);
		else
			pending_ws = ws;
	}
}

static void ctl_read(void)
{
	for (;;) {
		ssize_t n = read(ctlfd, ctlbuf + ctllen, sizeof ctlbuf - 1 - ctllen);
		if (n <= 0)
			return;
		ctllen += (size_t)n;
		char *nl;
		while ((nl = memchr(ctlbuf, '\n', ctllen))) {
			*nl = 0;
			ctl_line(ctlbuf);
			ctllen -= (size_t)(nl + 1 - ctlbuf);
			memmove(ctlbuf, nl + 1, ctllen);
		}
		if (ctllen == sizeof ctlbuf - 1) /* a line too long: drop it */
			ctllen = 0;
	}
}

/* The terminal's master from COMMAND's console socket (SCM_RIGHTS); EOF means it has none. */
static void console_read(void)
{
	char byte;
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(int))];
	} ctrl;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl.space, .msg_controllen = sizeof ctrl.space};
	ssize_t n = recvmsg(console_fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL;
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
		memcpy(&master, CMSG_DATA(c), sizeof master);
		fcntl(master, F_SETFL, O_NONBLOCK | O_RDWR);
		if (pending_ws.ws_row)
			ioctl(master, TIOCSWINSZ, &pending_ws);
		outfd[0] = stdin_fd = master;
		if (stdin_closing)
			close_stdin();
	}
	close(console_fd);
	console_fd = -1;
}

/* ---------------------------------------------------------------- the end */

static void finish(void)
{
	for (int s = 0; s < 2; s++)
		if (outfd[s] >= 0) {
			close(outfd[s]);
			outfd[s] = -1;
		}
	if (logfd >= 0) {
		for (int s = 0; s < 2; s++)
			if (plen[s])
				log_entry(s, pend[s], plen[s], &pts[s]);
		log_flush(); /* no fsync: the log must survive the daemon, not the machine, and exits wait for this */
		close(logfd);
	}
	/* Gone from the directory before any client sees EOF: a new monitor may reuse it at once. */
	unlink(sock_path);
	unlink(ctl_path);
	close(lfd);
	close(ctlfd);
	int64_t deadline = mono_ms() + FLUSH_MS;
	for (;;) {
		struct pollfd pf[MAX_CLIENTS];
		int n = 0;
		for (int i = 0; i < ncl; i++)
			if (cl[i].fd >= 0 && cl[i].out.len) {
				pf[n].fd = cl[i].fd;
				pf[n].events = POLLOUT;
				n++;
			}
		int64_t left = deadline - mono_ms();
		if (!n || left <= 0)
			break;
		if (poll(pf, (nfds_t)n, (int)left) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < ncl; i++)
			if (cl[i].fd >= 0 && cl[i].out.len)
				client_flush(&cl[i]);
	}
	for (int i = 0; i < ncl; i++) {
		if (cl[i].fd < 0)
			continue;
		/* Unread input would turn the client's EOF into ECONNRESET. */
		static char junk[4096];
		for (int k = 0; k < 64 && read(cl[i].fd, junk, sizeof junk) > 0; k++) {
		}
		close(cl[i].fd);
	}
	exit(0);
}

/* --------------------------------------------------------------- startup */

static void usage(void)
{
	dprintf(2, "usage: berth-monitor --dir DIR [--log PATH [--log-max-size BYTES] [--log-max-files N]]\n"
		   "         [--tty [--console-fd N]] [--stdin] [--stdin-once] [--clone-ns pid,mnt,uts,ipc,net,cgroup]\n"
		   "         [--enter-pidns FILE] [--userns FILE [--netns FILE] [--cgroup-join FILE]... [--rlimit RES:SOFT:HARD]...] [--pass-fd N]... [--gate] [--buffer-until-attach] -- COMMAND [ARG...]\n");
	exit(125);
}

static unsigned long long number(const char *s, const char *what)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || !*s || *end || *s == '-') {
		char msg[128];
		snprintf(msg, sizeof msg, "%s: not a number", what);
		die(msg, 0);
	}
	return v;
}

static void parse_ns(char *list)
{
	for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
		static const struct { const char *name; int flag; } ns[] = {
			{"pid", CLONE_NEWPID}, {"mnt", CLONE_NEWNS}, {"uts", CLONE_NEWUTS},
			{"ipc", CLONE_NEWIPC}, {"net", CLONE_NEWNET}, {"cgroup", CLONE_NEWCGROUP},
		};
		size_t i;
		for (i = 0; i < sizeof ns / sizeof ns[0]; i++)
			if (!strcmp(tok, ns[i].name)) {
				clone_flags |= ns[i].flag;
				break;
			}
		if (i == sizeof ns / sizeof ns[0])
			die("--clone-ns: unknown namespace (pid, mnt, uts, ipc, net, cgroup)", 0);
	}
}

static int is_passed(int fd);

static void parse_args(int argc, char **argv)
{
	int i;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--"))
			break;
		if (!strcmp(a, "--tty"))
			opt_tty = 1;
		else if (!strcmp(a, "--stdin"))
			opt_stdin = 1;
		else if (!strcmp(a, "--stdin-once"))
			opt_stdin_once = 1;
		else if (!strcmp(a, "--gate"))
			opt_gate = 1;
		else if (!strcmp(a, "--buffer-until-attach"))
			opt_hold = 1;
		else if (!v)
			usage();
		else {
			i++;
			if (!strcmp(a, "--dir"))
				opt_dir = v;
			else if (!strcmp(a, "--log"))
				opt_log = v;
			else if (!strcmp(a, "--log-max-size"))
				opt_max_size = number(v, "--log-max-size");
			else if (!strcmp(a, "--log-max-files")) {
				opt_max_files = (long)number(v, "--log-max-files");
				if (opt_max_files < 1 || opt_max_files > 1000)
					die("--log-max-files: must be 1 to 1000", 0);
			} else if (!strcmp(a, "--clone-ns"))
				parse_ns(argv[i]);
			else if (!strcmp(a, "--enter-pidns"))
				opt_pidns = v;
			else if (!strcmp(a, "--userns"))
				opt_userns = v;
			else if (!strcmp(a, "--netns"))
				opt_netns = v;
			else if (!strcmp(a, "--rlimit")) {
				unsigned long long soft, hard;
				int res;
				if (n_rlimits == (int)(sizeof rlimits / sizeof rlimits[0]) || sscanf(v, "%d:%llu:%llu", &res, &soft, &hard) != 3)
					die("--rlimit: RESOURCE:SOFT:HARD (numbers; at most 16)", 0);
				rlimits[n_rlimits].resource = res;
				rlimits[n_rlimits].lim.rlim_cur = (rlim_t)soft;
				rlimits[n_rlimits].lim.rlim_max = (rlim_t)hard;
				n_rlimits++;
			} else if (!strcmp(a, "--cgroup-join")) {
				if (n_cgroup_join == (int)(sizeof cgroup_join / sizeof cgroup_join[0]))
					die("--cgroup-join: at most 16", 0);
				cgroup_join[n_cgroup_join++] = v;
			}
			else if (!strcmp(a, "--console-fd")) {
				unsigned long long fd = number(v, "--console-fd");
				if (fd < 3 || fd > 1023)
					die("--console-fd: must be 3 to 1023", 0);
				opt_console_fd = (int)fd;
			}
			else if (!strcmp(a, "--pass-fd")) {
				unsigned long long fd = number(v, "--pass-fd");
				if (fd < 3 || fd > INT_MAX || n_pass == (int)(sizeof pass_fds / sizeof pass_fds[0]))
					die("--pass-fd: must be 3 or more (at most 64 of them)", 0);
				if (fcntl((int)fd, F_GETFD) < 0)
					die("--pass-fd: not an open file descriptor", errno);
				pass_fds[n_pass++] = (int)fd;
			} else
				usage();
		}
	}
	if (i >= argc - 1 || !opt_dir)
		usage();
	if (opt_console_fd >= 0 && (!opt_tty || is_passed(opt_console_fd)))
		die("--console-fd: needs --tty, and a number no --pass-fd uses", 0);
	cmd_argv = argv + i + 1;
}

static char *absolute(const char *path)
{
	if (path[0] == '/')
		return cat3(path, "", "");
	char *cwd = getcwd(NULL, 0);
	if (!cwd)
		die("getcwd", errno);
	char *p = cat3(cwd, "/", path);
	free(cwd);
	return p;
}

static int is_passed(int fd)
{
	for (int i = 0; i < n_pass; i++)
		if (pass_fds[i] == fd)
			return 1;
	return 0;
}

/* Close every inherited fd above 2 but the --pass-fd ones. */
static void close_inherited(void)
{
	int from = 3;
	for (;;) {
		int next = INT_MAX;
		for (int i = 0; i < n_pass; i++)
			if (pass_fds[i] >= from && pass_fds[i] < next)
				next = pass_fds[i];
		if (next > from && syscall(SYS_close_range, (unsigned)from, next == INT_MAX ? ~0U : (unsigned)next - 1, 0U))
			for (int fd = from; fd < (next == INT_MAX ? 4096 : next); fd++)
				if (!is_passed(fd))
					close(fd);
		if (next == INT_MAX)
			break;
		from = next + 1;
	}
}

static void setup_socket(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		die("socket", errno);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof sa)) {
		if (errno != EADDRINUSE)
			die(sock_path, errno);
		/* Left by a monitor that was killed? Only if nobody answers. */
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0)
			die("another monitor is running in this directory", 0);
		close(probe);
		unlink(sock_path);
		if (bind(lfd, (struct sockaddr *)&sa, sizeof sa))
			die(sock_path, errno);
	}
	if (listen(lfd, 64))
		die("listen", errno);
}

static void setup_stdio(void)
{
	if (opt_tty && opt_console_fd >= 0) {
		/* COMMAND opens the terminal (in its own devpts) and sends us the master. */
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
			die("socketpair", errno);
		console_fd = sv[0];
		child_console = sv[1];
		if ((child_fd[0] = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
			die("/dev/null", errno);
		child_fd[1] = child_fd[2] = child_fd[0];
		return;
	}
	if (opt_tty) {
		master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (master < 0 || unlockpt(master))
			die("open a pseudo-terminal", errno);
		int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (slave < 0)
			die("open the pseudo-terminal's slave", errno);
		fcntl(master, F_SETFL, O_NONBLOCK | O_RDWR);
		outfd[0] = stdin_fd = master;
		child_fd[0] = child_fd[1] = child_fd[2] = slave;
		return;
	}
	int p[2];
	for (int s = 0; s < 2; s++) {
		if (pipe2(p, O_CLOEXEC))
			die("pipe", errno);
		fcntl(p[0], F_SETFL, O_NONBLOCK);
		outfd[s] = p[0];
		child_fd[1 + s] = p[1];
	}
	if (opt_stdin) {
		if (pipe2(p, O_CLOEXEC))
			die("pipe", errno);
		fcntl(p[1], F_SETFL, O_NONBLOCK);
		stdin_fd = p[1];
		child_fd[0] = p[0];
	} else if ((child_fd[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
		die("/dev/null", errno);
}

int main(int argc, char **argv)
{
	/* fds 0-2 must exist, or our own pipes would land there. */
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) < 0)
			return 125;
	parse_args(argc, argv);
	close_inherited();

	if (setsid() < 0) { /* already a group leader: become a child that is not */
		pid_t p = fork();
		if (p < 0)
			die("fork", errno);
		if (p > 0)
			_exit(0);
		setsid();
	}
	struct sigaction ign = {.sa_handler = SIG_IGN};
	static const int ignored[] = {SIGPIPE, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGTTIN, SIGTTOU};
	for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
		sigaction(ignored[i], &ign, NULL);
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	if ((sigfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		die("signalfd", errno);

	dir = absolute(opt_dir);
	if (mkdir(dir, 0700) && errno != EEXIST)
		die(dir, errno);
	if (strlen(dir) + sizeof "/attach.sock" > sizeof sock_path)
		die("--dir: too long for a unix socket path (at most 95 bytes)", 0);
	memcpy(sock_path, dir, strlen(dir));
	memcpy(sock_path + strlen(dir), "/attach.sock", sizeof "/attach.sock");
	ctl_path = cat3(dir, "/", "ctl");
	exit_path = cat3(dir, "/", "exit.json");
	pid_path = cat3(dir, "/", "pid");
	unlink(exit_path); /* a previous run's records */
	unlink(pid_path);

	saved_umask = umask(0177); /* attach.sock 0600 */
	setup_socket();
	unlink(ctl_path);
	if (mkfifo(ctl_path, 0600))
		die(ctl_path, errno);
	if ((ctlfd = open(ctl_path, O_RDWR | O_NONBLOCK | O_CLOEXEC)) < 0)
		die(ctl_path, errno);
	umask(saved_umask);

	if (opt_log) {
		log_path = absolute(opt_log);
		if ((logfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640)) < 0)
			die(log_path, errno);
		struct stat st;
		if (fstat(logfd, &st) == 0)
			log_size = (unsigned long long)st.st_size;
	}
	setup_stdio();
	holding = opt_hold;

	char line[64];
	char *mpid_path = cat3(dir, "/", "monitor.pid");
	write_atomic(mpid_path, line, (size_t)sprintf(line, "%d\n", (int)getpid()));
	free(mpid_path);

	state = GATED;
	if (!opt_gate)
		start_command();
	write_all(1, line, (size_t)sprintf(line, "{\"monitorPid\":%d,\"pid\":%d}\n", (int)getpid(), (int)cmd_pid));
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (int fd = 0; fd < 3; fd++)
		dup2(null, fd); /* dup2 clears CLOEXEC on the copies */
	close(null);

	struct pollfd *pf = NULL;
	int cappf = 0;
	for (;;) {
		if (cappf < ncl + 8) {
			cappf = ncl + 16;
			struct pollfd *n = realloc(pf, (size_t)cappf * sizeof *pf);
			if (!n)
				die("out of memory", 0);
			pf = n;
		}
		int k = 0;
		int lingering = state == LINGER;
		pf[k++] = (struct pollfd){.fd = lfd, .events = POLLIN};
		pf[k++] = (struct pollfd){.fd = ctlfd, .events = POLLIN};
		pf[k++] = (struct pollfd){.fd = sigfd, .events = POLLIN};
		pf[k++] = (struct pollfd){.fd = outfd[0], .events = POLLIN};
		pf[k++] = (struct pollfd){.fd = outfd[1], .events = POLLIN};
		pf[k++] = (struct pollfd){.fd = inbuf.len ? stdin_fd : -1, .events = POLLOUT};
		pf[k++] = (struct pollfd){.fd = console_fd, .events = POLLIN};
		int base = k;
		for (int i = 0; i < ncl; i++) {
			struct client *c = &cl[i];
			short ev = 0;
			if (!c->rd_eof && !(c->mask > 0 && (c->mask & 1) && inbuf.len >= STDIN_HIGH))
				ev |= POLLIN;
			if (c->out.len)
				ev |= POLLOUT;
			pf[k++] = (struct pollfd){.fd = c->fd, .events = ev};
		}
		int timeout = -1;
		int64_t now = mono_ms();
		if (state == DRAINING) {
			int64_t idle_end = (last_out_ms > exited_ms ? last_out_ms : exited_ms) + DRAIN_IDLE_MS;
			int64_t end = exited_ms + DRAIN_MAX_MS < idle_end ? exited_ms + DRAIN_MAX_MS : idle_end;
			timeout = end > now ? (int)(end - now) : 0;
		} else if (lingering)
			timeout = linger_until > now ? (int)(linger_until - now) : 0;
		if (poll(pf, (nfds_t)k, timeout) < 0) {
			if (errno != EINTR)
				die("poll", errno);
			continue;
		}
		/* Order matters: clients first (their masks), then output, then control lines. */
		for (int i = 0; i < ncl && base + i < k; i++) {
			struct client *c = &cl[i];
			short re = pf[base + i].revents;
			if (c->fd < 0 || !re)
				continue;
			if (re & (POLLIN | POLLHUP | POLLERR))
				client_read(c);
			if (c->fd >= 0 && (re & POLLOUT))
				client_flush(c);
			if (c->fd >= 0 && (re & (POLLHUP | POLLERR)) && !(re & POLLIN))
				drop_client(c);
		}
		if (pf[0].revents)
			accept_clients();
		if (pf[6].revents && console_fd >= 0)
			console_read();
		for (int s = 0; s < 2; s++) {
			if (!pf[3 + s].revents || outfd[s] < 0)
				continue;
			static char rbuf[CHUNK];
			ssize_t n = read(outfd[s], rbuf, sizeof rbuf);
			if (n > 0)
				on_output(s, rbuf, (size_t)n);
			else if (n == 0 || (errno != EAGAIN && errno != EINTR)) { /* EOF, or EIO from the pty master */
				if (outfd[s] == master)
					master = stdin_fd = -1;
				close(outfd[s]);
				outfd[s] = -1;
			}
		}
		if (logfd >= 0)
			log_flush();
		if (pf[5].revents)
			stdin_flush();
		if (pf[2].revents)
			reap();
		if (pf[1].revents)
			ctl_read();
		compact_clients();

		now = mono_ms();
		if (state == DRAINING) {
			int64_t idle_end = (last_out_ms > exited_ms ? last_out_ms : exited_ms) + DRAIN_IDLE_MS;
			int open_out = outfd[0] >= 0 || outfd[1] >= 0 || console_fd >= 0;
			if (open_out && now < exited_ms + DRAIN_MAX_MS && now < idle_end)
				continue;
			if (holding && hold.len) {
				state = LINGER;
				linger_until = now + LINGER_MS;
			} else
				finish();
		}
		if (state == LINGER && (!holding || now >= linger_until))
			finish();
	}
}
