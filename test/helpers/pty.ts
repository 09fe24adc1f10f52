// Run a command on a real pseudo-terminal, as a user at a terminal would:
// util-linux `script` allocates the pty and copies our pipe to its master,
// so the command sees a terminal on stdin, stdout and stderr.

export interface PtyStep {
  /** Wait until the output so far matches this… */
  after: RegExp;
  /** …then type this (a real keyboard sends "\r" for Enter). */
  send: string;
}

export interface PtyResult {
  /** The command's exit code (script -e passes it through). */
  code: number;
  /** Everything the terminal showed, "\r\n" line ends included. */
  output: string;
  /** The command was killed after the time limit. */
  timedOut: boolean;
  /** The step whose `after` never matched, if any. */
  stuckAt?: RegExp;
}

const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`);

/** Run `argv` on a `rows`x`cols` terminal, typing each step's text once the output matches. */
export async function inPty(
  argv: string[],
  opts: { env?: Record<string, string>; rows?: number; cols?: number; steps?: PtyStep[]; timeoutMs?: number } = {},
): Promise<PtyResult> {
  const { rows = 30, cols = 100, steps = [], timeoutMs = 15_000 } = opts;
  const cmd = `stty rows ${rows} cols ${cols}; exec ${argv.map(quote).join(" ")}`;
  const proc = Bun.spawn(["script", "-qefc", cmd, "/dev/null"], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, TERM: "xterm", ...opts.env },
  });
  let output = "";
  let timedOut = false;
  let changed: () => void = () => {};
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill("SIGKILL");
    changed();
  }, timeoutMs);
  const reading = (async () => {
    const dec = new TextDecoder();
    for await (const chunk of proc.stdout) {
      output += dec.decode(chunk, { stream: true });
      changed();
    }
    changed();
  })();
  const exited = proc.exited.then(() => changed());
  let stuckAt: RegExp | undefined;
  for (const step of steps) {
    while (!step.after.test(output) && !timedOut && proc.exitCode === null) await new Promise<void>((r) => (changed = r));
    if (!step.after.test(output)) {
      stuckAt = step.after;
      break;
    }
    proc.stdin.write(step.send);
    proc.stdin.flush();
  }
  // Keep the terminal's input open until the command ends: script hangs up on EOF.
  await exited;
  await reading;
  clearTimeout(timer);
  try {
    proc.stdin.end();
  } catch {
    // already closed
  }
  return { code: proc.exitCode ?? -1, output, timedOut, stuckAt };
}
