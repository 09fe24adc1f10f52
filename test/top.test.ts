// `docker top` against real processes and the host's real ps.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { isKind } from "../core/errors.ts";
import { parsePsOutput, top, validatePsArgs } from "../core/engine/top.ts";

type Proc = ReturnType<typeof Bun.spawn>;
const procs: Proc[] = [];
let sleepA: Proc; // sleep 1000
let sleepB: Proc; // sleep 1001
let shell: Proc; // sh -c 'sleep 1002; true': a command line with spaces and a child
let outsider: Proc; // not "in the container"

function spawn(cmd: string[]): Proc {
  const p = Bun.spawn(cmd, { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  procs.push(p);
  return p;
}

/** Wait until ps sees the process running `comm` (a freshly forked child may still show its parent's name). */
async function waitComm(pid: number, comm: string) {
  for (let i = 0; i < 200; i++) {
    const r = Bun.spawnSync(["ps", "-o", "comm=", "-p", String(pid)]);
    if (r.stdout.toString().trim() === comm) return;
    await Bun.sleep(10);
  }
  throw new Error(`process ${pid} never became ${comm}`);
}

beforeAll(async () => {
  sleepA = spawn(["sleep", "1000"]);
  sleepB = spawn(["sleep", "1001"]);
  shell = spawn(["sh", "-c", "sleep 1002; true"]);
  outsider = spawn(["sleep", "1003"]);
  await waitComm(sleepA.pid, "sleep");
  await waitComm(sleepB.pid, "sleep");
  await waitComm(shell.pid, "sh");
  await waitComm(outsider.pid, "sleep");
});

afterAll(async () => {
  // The shell's own child first: killing the shell alone would orphan it.
  for (const child of Bun.spawnSync(["pgrep", "-P", String(shell.pid)]).stdout.toString().split("\n").filter(Boolean)) process.kill(Number(child), "SIGKILL");
  for (const p of procs) p.kill("SIGKILL");
  await Promise.all(procs.map((p) => p.exited));
});

const pidsOf = (rows: string[][], titles: string[]) => rows.map((r) => Number(r[titles.indexOf("PID")])).sort((a, b) => a - b);

describe("top", () => {
  test("default -ef: Docker's titles, only the given pids, the command kept whole", async () => {
    const want = [sleepA.pid, sleepB.pid, shell.pid];
    const r = await top(want);
    expect(r.Titles).toEqual(["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]);
    expect(pidsOf(r.Processes, r.Titles)).toEqual([...want].sort((a, b) => a - b));
    for (const row of r.Processes) expect(row.length).toBe(r.Titles.length);
    const cmd = (pid: number) => r.Processes.find((p) => Number(p[1]) === pid)![7];
    expect(cmd(sleepA.pid)).toBe("sleep 1000");
    expect(cmd(sleepB.pid)).toBe("sleep 1001");
    expect(cmd(shell.pid)).toBe("sh -c sleep 1002; true");
    // The PPID column is the test process, the UID root.
    for (const row of r.Processes) {
      expect(Number(row[2])).toBe(process.pid);
      expect(row[0]).toBe("root");
    }
    // "" means the default, as in the API.
    expect((await top(want, "")).Titles).toEqual(r.Titles);
  });

  test("-o pid,comm", async () => {
    const r = await top([sleepA.pid, shell.pid], "-o pid,comm");
    expect(r.Titles).toEqual(["PID", "COMMAND"]);
    expect(r.Processes.sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual(
      [
        [String(sleepA.pid), "sleep"],
        [String(shell.pid), "sh"],
      ].sort((a, b) => Number(a[0]) - Number(b[0])),
    );
  });

  test("aux (BSD syntax): eleven columns, PID second, COMMAND whole", async () => {
    const r = await top([sleepB.pid, shell.pid], "aux");
    expect(r.Titles).toEqual(["USER", "PID", "%CPU", "%MEM", "VSZ", "RSS", "TTY", "STAT", "START", "TIME", "COMMAND"]);
    expect(pidsOf(r.Processes, r.Titles)).toEqual([sleepB.pid, shell.pid].sort((a, b) => a - b));
    const byPid = new Map(r.Processes.map((p) => [Number(p[1]), p]));
    expect(byPid.get(shell.pid)![10]).toBe("sh -c sleep 1002; true");
    expect(byPid.get(sleepB.pid)![10]).toBe("sleep 1001");
  });

  test("a forest listing (ps refuses -q with it): retried without -q, still filtered", async () => {
    const r = await top([sleepA.pid, outsider.pid], "-ef --forest");
    expect(pidsOf(r.Processes, r.Titles)).toEqual([sleepA.pid, outsider.pid].sort((a, b) => a - b));
    const row = r.Processes.find((p) => Number(p[1]) === sleepA.pid)!;
    expect(row[7]).toMatch(/sleep 1000$/); // after the tree drawing
  });

  test("thread rows ('-' as PID) follow the process they belong to", async () => {
    // This Bun process has several threads.
    const r = await top([process.pid], "-m -o pid,tid,comm");
    expect(r.Titles).toEqual(["PID", "TID", "COMMAND"]);
    expect(r.Processes[0]![0]).toBe(String(process.pid));
    const threads = r.Processes.slice(1);
    expect(threads.length).toBeGreaterThan(1);
    for (const t of threads) expect(t[0]).toBe("-");
    expect(threads.map((t) => Number(t[1]))).toContain(process.pid);
    // Threads of processes left out are left out too.
    const other = await top([sleepA.pid], "-m -o pid,tid,comm");
    expect(other.Processes).toEqual([
      [String(sleepA.pid), "-", "sleep"],
      ["-", String(sleepA.pid), "-"],
    ]);
  });

  test("renaming a column to PID is refused with Docker's words; pid=PID is allowed", async () => {
    const err = await top([sleepA.pid], "-o user=PID").catch((e) => e);
    expect(isKind(err, "InvalidArgument")).toBe(true);
    expect(err.message).toBe('specifying "user=PID" is not allowed');
    expect(() => validatePsArgs("-o pid,comm= -o args=PIDS")).toThrow('specifying "args=PIDS" is not allowed');
    expect(() => validatePsArgs("-o pid=PID")).not.toThrow();
    const r = await top([sleepA.pid], "-o pid=PID,comm");
    expect(r.Processes).toEqual([[String(sleepA.pid), "sleep"]]);
  });

  test("arguments without a PID column: Docker's error", async () => {
    const err = await top([sleepA.pid], "-o comm,args").catch((e) => e);
    expect(isKind(err, "Internal")).toBe(true);
    expect(err.message).toBe("Couldn't find PID field in ps output");
  });

  test("arguments ps rejects: the first line of ps's stderr", async () => {
    const err = await top([sleepA.pid], "--no-such-option").catch((e) => e);
    expect(isKind(err, "Internal")).toBe(true);
    expect(err.message).toBe("error: unknown gnu long option");
  });

  test("a process that has ended is simply absent", async () => {
    const gone = Bun.spawn(["true"]);
    await gone.exited;
    const r = await top([gone.pid, sleepA.pid]);
    expect(pidsOf(r.Processes, r.Titles)).toEqual([sleepA.pid]);
  });

  test("parsing: overhanging fields joined, non-ASCII spaces kept, bad pids reported", () => {
    const out = "  PID CMD\n   7 a  b\u00a0c   d\n   8 other\n";
    expect(parsePsOutput(out, [7])).toEqual({ Titles: ["PID", "CMD"], Processes: [["7", "a b\u00a0c d"]] });
    expect(() => parsePsOutput("PID CMD\nx y\n", [1])).toThrow(`Unexpected pid 'x'`);
  });
});
