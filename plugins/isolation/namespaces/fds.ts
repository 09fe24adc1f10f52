// The fds the monitor hands the container init (init.ts), besides stdio.

/** The engine's control socket: the request comes in, the pid and "exec" (or an error) go out. */
export const CONTROL_FD = 3;
/** With a terminal: the console socket on which the init sends the pty master to the monitor. */
export const CONSOLE_FD = 4;
