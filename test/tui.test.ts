// `berth tui` end to end: the dashboard in a real terminal (tmux, 120x40)
// against this root's daemon and a real two-service compose stack. Keys go
// in with send-keys, the screen comes back with capture-pane; every check
// polls the screen until the text appears.
import { afterAll, beforeAll, expect, test } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { BERTH, berth, importBusybox, leaks, makeRoot, removeRoot, type TestRoot } from "./helpers/berth.ts";

let t: TestRoot;
let dir: string;
const project = `tui${process.pid % 10000}`;
const socket = `berth-tui-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
const session = "tui";

const COMMAND = `["sh", "-c", "trap 'exit 0' TERM; echo hello-from-web; while :; do sleep 1000 & wait; done"]`;

function tmux(...args: string[]): { code: number; out: string } {
  const r = Bun.spawnSync(["tmux", "-L", socket, ...args], { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? -1, out: r.stdout.toString() + r.stderr.toString() };
}

const screen = () => tmux("capture-pane", "-p", "-t", session).out;

/** Poll the screen until `pred` holds; fail with the last screen after `ms`. */
async function waitFor(what: string, pred: (s: string) => boolean, ms = 20_000): Promise<string> {
  const end = Date.now() + ms;
  let s = "";
  while (Date.now() < end) {
    s = screen();
    if (pred(s)) return s;
    await Bun.sleep(100);
  }
  throw new Error(`timed out waiting for ${what}; the screen:\n${s}`);
}

const keys = (...k: string[]) => tmux("send-keys", "-t", session, ...k);

/** The screen's line that shows this name in the tree. */
const lineOf = (s: string, name: string) => s.split("\n").find((l) => l.includes(name)) ?? "";

beforeAll(async () => {
  t = makeRoot();
  await importBusybox(t, "busybox:latest");
  dir = mkdtempSync("/tmp/berth-tui-test-");
  writeFileSync(
    `${dir}/compose.yaml`,
    `services:\n  web:\n    image: busybox:latest\n    command: ${COMMAND}\n  worker:\n    image: busybox:latest\n    command: ${COMMAND}\n`,
  );
  const up = Bun.spawnSync([BERTH, ...t.flags, "compose", "-p", project, "up", "-d"], { cwd: dir, stdout: "pipe", stderr: "pipe" });
  if (up.exitCode !== 0) throw new Error(`compose up failed: ${up.stderr.toString()}`);
}, 120_000);

afterAll(async () => {
  tmux("kill-session", "-t", session);
  tmux("kill-server");
  if (dir) {
    Bun.spawnSync([BERTH, ...t.flags, "compose", "-p", project, "down"], { cwd: dir, stdout: "ignore", stderr: "ignore" });
    rmSync(dir, { recursive: true, force: true });
  }
  if (t) {
    const left = leaks(t);
    await removeRoot(t);
    expect(left).toEqual([]);
  }
}, 120_000);

test("berth tui: the stack's tree, logs, a shell, stop, compose up, the watch pane, help, a resize, and q", async () => {
  const exitFile = `${dir}/tui-exit`;
  const cmd = `${[BERTH, ...t.flags, "tui"].map((a) => `'${a}'`).join(" ")}; echo $? > '${exitFile}'; sleep 600`;
  expect(tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "40", "-e", "TERM=xterm-256color", cmd).code).toBe(0);

  // The tree: the stack, its services and their containers, running.
  let s = await waitFor("the stack in the tree", (x) => x.includes(project) && x.includes(`${project}-web-1`) && x.includes(`${project}-worker-1`) && /2\/2 up/.test(x));
  expect(s).toMatch(new RegExp(`- ${project}\\b`));
  expect(s).toMatch(/- web\b/);
  expect(s).toMatch(/- worker\b/);
  expect(lineOf(s, `${project}-web-1`)).toContain("running");

  // A click selects: worker-1's row (a press, as a terminal sends it in SGR mouse mode; columns and rows count from 1).
  const row = s.split("\n").findIndex((l) => l.includes(`${project}-worker-1`)) + 1;
  keys("-H", ...[...`\x1b[<0;10;${row}M`].map((ch) => ch.charCodeAt(0).toString(16)));
  await waitFor("worker-1 selected by the click", (x) => x.includes(`logs: ${project}-worker-1`));

  // Select web-1 with the keys (stack, web, web-1: the third row): its log follows.
  keys("g");
  keys("Down");
  keys("Down");
  s = await waitFor("the log of web-1", (x) => x.includes(`logs: ${project}-web-1`) && x.includes("hello-from-web"));

  // The shell: exec -it sh on the real terminal, then back to the dashboard.
  keys("e");
  await waitFor("the shell's prompt", (x) => !x.includes("CPU HISTORY") && /[#$] ?$/m.test(x));
  keys("echo inside-$((6*7))", "Enter");
  await waitFor("the shell's output", (x) => /^inside-42/m.test(x));
  keys("exit", "Enter");
  s = await waitFor("the dashboard again", (x) => x.includes("CPU HISTORY") && x.includes(`${project}-web-1`));

  // Stop it: the row turns exited.
  keys("x");
  s = await waitFor("web-1 exited", (x) => lineOf(x, `${project}-web-1`).includes("exited") && /1\/2 up/.test(x));
  expect(lineOf(s, `${project}-worker-1`)).toContain("running");

  // u on the stack: compose up -d with the stack's own files (from its labels) starts web-1 again.
  keys("g");
  keys("u");
  s = await waitFor("the stack up again", (x) => lineOf(x, `${project}-web-1`).includes("running") && /2\/2 up/.test(x) && x.includes("up -d: done"));

  // The side pane cycles to the watch pane: berthd answers, with no watch running.
  keys("Tab");
  await waitFor("the watch pane", (x) => x.includes("watch (Tab)") && x.includes("no watch"));

  // The help overlay, and Esc back.
  keys("?");
  await waitFor("the help", (x) => x.includes("berth tui keys"));
  keys("Escape");
  await waitFor("the help closed", (x) => !x.includes("berth tui keys"));

  // A resize to 80x24 keeps the layout: the tree, the panes and the status line.
  tmux("resize-window", "-t", session, "-x", "80", "-y", "24");
  s = await waitFor("the layout at 80x24", (x) => {
    const lines = x.split("\n");
    return lines.length >= 24 && lines.slice(0, 24).every((l) => l.length <= 80) && x.includes(`${project}-worker-1`) && x.includes("logs:") && x.includes("watch (Tab)");
  });
  const lines = s.split("\n").slice(0, 24);
  expect(lines[0]).toContain("berth tui");
  // The tree's box and the two panes' boxes (line drawing: Unicode, or tmux's ACS letters).
  expect(lines.filter((l) => /^[┌l][─q]/.test(l)).length).toBe(2);

  // q quits with status 0.
  keys("q");
  await waitFor("the exit status", () => {
    try {
      return require("node:fs").readFileSync(exitFile, "utf8").trim() !== "";
    } catch {
      return false;
    }
  });
  expect(require("node:fs").readFileSync(exitFile, "utf8").trim()).toBe("0");

  const down = await berth(t, ["compose", "-p", project, "down"]);
  expect(down.code).toBe(0);
}, 120_000);
