// Reading Docker json-file logs: real files, rotated while they are read by a
// real writer process, followed with measured latency.
import { afterAll, beforeEach, describe, expect, test } from "vitest";
import { appendFileSync, closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { formatTimestamp, parseRFC3339Nano, readLogs, toUnixNanos, withTimestamp, type LogEntry, type LogOptions } from "../core/engine/logs.ts";

const base = mkdtempSync("/tmp/berth-logs-test-");
afterAll(() => rmSync(base, { recursive: true, force: true }));
let dir: string;
let log: string;
beforeEach((ctx) => {
  dir = join(base, ctx.task.name.replace(/[^a-z0-9]+/gi, "-").slice(0, 60));
  mkdirSync(dir, { recursive: true });
  log = join(dir, "container-json.log");
});

const dec = new TextDecoder();
const T0 = 1_704_164_645_000_000_000n; // 2024-01-02T03:04:05Z

/** RFC3339Nano as Go writes it (trailing zeros dropped), computed independently of the module. */
function rfc3339(ns: bigint): string {
  const iso = new Date(Number(ns / 1_000_000n)).toISOString().slice(0, 19);
  const frac = (ns % 1_000_000_000n).toString().padStart(9, "0").replace(/0+$/, "");
  return `${iso}${frac ? `.${frac}` : ""}Z`;
}
function line(text: string, stream: "stdout" | "stderr" = "stdout", ns: bigint = T0): string {
  return `${JSON.stringify({ log: text, stream, time: rfc3339(ns) })}\n`;
}
/** Lines "0\n".."n-1\n" with times T0 + i microseconds, alternating streams when asked. */
function lines(from: number, n: number, alternate = false): string {
  let s = "";
  for (let i = from; i < from + n; i++) s += line(`${i}\n`, alternate && i % 2 ? "stderr" : "stdout", T0 + BigInt(i) * 1000n);
  return s;
}

const all: LogOptions = { stdout: true, stderr: true, timestamps: false, follow: false };
async function collect(path: string, opts: Partial<LogOptions> = {}, stop?: Promise<unknown>): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  for await (const e of readLogs(path, { ...all, ...opts }, stop)) out.push(e);
  return out;
}
const texts = (es: LogEntry[]) => es.map((e) => dec.decode(e.text));
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => `${from + i}\n`);

describe("json-file logs", () => {
  test("entries in order across rotated files, with stream, time and bytes as written", async () => {
    writeFileSync(`${log}.2`, lines(0, 3, true));
    writeFileSync(`${log}.1`, lines(3, 3, true));
    writeFileSync(log, lines(6, 4, true) + line("héllo ✓ \u0000 \"q\"\r\n", "stderr", T0 + 123_456_789_000n));
    const es = await collect(log);
    expect(texts(es)).toEqual([...range(0, 10), "héllo ✓ \u0000 \"q\"\r\n"]);
    expect(es[1]!.stream).toBe("stderr");
    expect(es[2]!.stream).toBe("stdout");
    expect(es[10]!.time).toBe("2024-01-02T03:06:08.456789Z");
    expect(es[10]!.nanos).toBe(T0 + 123_456_789_000n);
    expect([...es[10]!.text]).toEqual([...new TextEncoder().encode("héllo ✓ \u0000 \"q\"\r\n")]);
    expect(texts(await collect(log, { stderr: false }))).toEqual(["0\n", "2\n", "4\n", "6\n", "8\n"]);
    expect(texts(await collect(log, { stdout: false }))).toEqual(["1\n", "3\n", "5\n", "7\n", "9\n", "héllo ✓ \u0000 \"q\"\r\n"]);
  });

  test("no log file yet: nothing, no error", async () => {
    expect(await collect(log)).toEqual([]);
    expect(await collect(log, { tail: 3 })).toEqual([]);
  });

  test("corrupt lines are skipped; a partial last line is not parsed", async () => {
    writeFileSync(
      log,
      line("a\n") +
        "not json\n" +
        "\n" +
        `${JSON.stringify({ log: "no time\n", stream: "stdout" })}\n` +
        `${JSON.stringify({ log: "bad time\n", stream: "stdout", time: "yesterday" })}\n` +
        `${JSON.stringify({ log: "bad stream\n", stream: "stdin", time: rfc3339(T0) })}\n` +
        `${JSON.stringify({ log: 42, stream: "stdout", time: rfc3339(T0) })}\n` +
        `[1,2]\n` +
        line("b\n") +
        line("c\n").slice(0, 20),
    );
    expect(texts(await collect(log))).toEqual(["a\n", "b\n"]);
  });

  test("tail: the last N entries over all files, both streams counted (as Docker)", async () => {
    writeFileSync(`${log}.2`, lines(0, 10, true));
    writeFileSync(`${log}.1`, lines(10, 3, true));
    writeFileSync(log, lines(13, 3, true) + line("partial").slice(0, 10));
    expect(texts(await collect(log, { tail: 7 }))).toEqual(range(9, 7));
    expect(texts(await collect(log, { tail: 3 }))).toEqual(range(13, 3));
    expect(texts(await collect(log, { tail: 4 }))).toEqual(range(12, 4));
    expect(texts(await collect(log, { tail: 1 }))).toEqual(["15\n"]);
    expect(texts(await collect(log, { tail: 0 }))).toEqual([]);
    expect(texts(await collect(log, { tail: 100 }))).toEqual(range(0, 16));
    expect(texts(await collect(log, { tail: "all" }))).toEqual(range(0, 16));
    expect(texts(await collect(log, { tail: -1 }))).toEqual(range(0, 16));
    // Tail picks lines first, then the stream filter applies: 2 lines, one of them stdout.
    expect(texts(await collect(log, { tail: 2, stderr: false }))).toEqual(["14\n"]);
    // ... and then since: of the last 5 (11..15), those at or after 13.
    expect(texts(await collect(log, { tail: 5, since: String(Number(T0 / 1_000_000_000n)) + ".000013" }))).toEqual(range(13, 3));
  });

  test("tail reads backwards across chunk boundaries", async () => {
    writeFileSync(log, lines(0, 100_000));
    expect(texts(await collect(log, { tail: 5000 }))).toEqual(range(95_000, 5000));
    expect(texts(await collect(log, { tail: 99_999 }))).toEqual(range(1, 99_999));
  });

  test("tail on a huge file reads only its end", async () => {
    // 1 GiB of hole (sparse: no disk used), then a newline and 1000 entries.
    writeFileSync(log, "");
    truncateSync(log, 1024 ** 3);
    appendFileSync(log, `\n${lines(0, 1000)}`);
    // The kernel's count of bytes this process read (read(2), pread(2)...).
    const rchar = () => Number(/^rchar: (\d+)$/m.exec(readFileSync("/proc/self/io", "utf8"))![1]);
    const r0 = rchar();
    const t = performance.now();
    const es = await collect(log, { tail: 5 });
    const ms = performance.now() - t;
    const read = rchar() - r0;
    expect(texts(es)).toEqual(range(995, 5));
    console.log(`tail 5 of a 1 GiB file: ${(read / 1024).toFixed(0)} KiB read in ${ms.toFixed(1)} ms`);
    expect(read).toBeLessThan(1024 * 1024);
    expect(ms).toBeLessThan(200);
  });

  test("since (inclusive) and until (inclusive, reading ends there), to the nanosecond", async () => {
    // Times T0+1ns, T0+2ns, ... T0+6ns.
    let s = "";
    for (let i = 1; i <= 6; i++) s += line(`${i}\n`, "stdout", T0 + BigInt(i));
    s += line("late but out of order\n", "stdout", T0 + 2n);
    writeFileSync(log, s);
    const sec = String(T0 / 1_000_000_000n);
    expect(texts(await collect(log, { since: `${sec}.000000003` }))).toEqual(["3\n", "4\n", "5\n", "6\n"]);
    expect(texts(await collect(log, { until: `${sec}.000000004` }))).toEqual(["1\n", "2\n", "3\n", "4\n"]);
    expect(texts(await collect(log, { since: `${sec}.000000002`, until: `${sec}.000000002` }))).toEqual(["2\n"]);
    // Numbers are Unix seconds; 0 means no filter, as in the API.
    expect(texts(await collect(log, { since: Number(sec) + 1 }))).toEqual([]);
    expect(texts(await collect(log, { since: 0, until: 0 })).length).toBe(7);
    expect(toUnixNanos("1704164645.5")).toBe(T0 + 500_000_000n);
    expect(toUnixNanos(1704164645.25)).toBe(T0 + 250_000_000n);
    expect(() => toUnixNanos("10m")).toThrow("is not a Unix timestamp");
  });

  test("times: any RFC 3339 offset; withTimestamp uses Docker's fixed nine digits in UTC", () => {
    expect(parseRFC3339Nano("2024-01-02T03:04:05Z")).toBe(T0);
    expect(parseRFC3339Nano("2024-01-02T05:04:05.000000001+02:00")).toBe(T0 + 1n);
    expect(parseRFC3339Nano("2024-01-01T23:04:05.5-04:00")).toBe(T0 + 500_000_000n);
    expect(parseRFC3339Nano("2024-01-02 03:04:05Z")).toBeUndefined();
    expect(formatTimestamp(T0 + 1_000_000n)).toBe("2024-01-02T03:04:05.001000000Z");
    const e: LogEntry = { stream: "stdout", time: "2024-01-02T05:04:05.1+02:00", nanos: T0 + 100_000_000n, text: new TextEncoder().encode("hi\n") };
    expect(dec.decode(withTimestamp(e))).toBe("2024-01-02T03:04:05.100000000Z hi\n");
  });
});

describe("json-file logs: follow", () => {
  test("new lines are yielded within milliseconds (latency measured)", async () => {
    writeFileSync(log, lines(0, 2));
    let release!: () => void;
    const stop = new Promise<void>((r) => (release = r));
    const appendedAt: number[] = [];
    const latencies: number[] = [];
    const seen: string[] = [];
    const reader = (async () => {
      for await (const e of readLogs(log, { ...all, follow: true }, stop)) {
        const i = Number(dec.decode(e.text));
        seen.push(dec.decode(e.text));
        if (i >= 2) latencies.push(performance.now() - appendedAt[i - 2]!);
      }
    })();
    await Bun.sleep(50);
    for (let i = 2; i < 42; i++) {
      appendedAt.push(performance.now());
      appendFileSync(log, line(`${i}\n`, "stdout", T0 + BigInt(i)));
      await Bun.sleep(5 + (i % 4) * 10);
    }
    await Bun.sleep(30);
    release();
    await reader;
    expect(seen).toEqual(range(0, 42));
    latencies.sort((a, b) => a - b);
    const median = latencies[latencies.length >> 1]!;
    const max = latencies.at(-1)!;
    console.log(`follow latency over ${latencies.length} appends: median ${median.toFixed(2)} ms, max ${max.toFixed(2)} ms`);
    expect(max).toBeLessThan(50);
  });

  test("a partial line is held until its newline arrives, then yielded once", async () => {
    writeFileSync(log, "");
    let release!: () => void;
    const stop = new Promise<void>((r) => (release = r));
    const seen: string[] = [];
    const reader = (async () => {
      for await (const e of readLogs(log, { ...all, follow: true }, stop)) seen.push(dec.decode(e.text));
    })();
    const full = line("split across writes\n");
    appendFileSync(log, full.slice(0, 17));
    await Bun.sleep(60);
    appendFileSync(log, full.slice(17, 40));
    await Bun.sleep(60);
    expect(seen).toEqual([]);
    appendFileSync(log, full.slice(40));
    await Bun.sleep(60);
    expect(seen).toEqual(["split across writes\n"]);
    release();
    await reader;
    expect(seen).toEqual(["split across writes\n"]);
  });

  test("tail 0 with follow: only what comes after (a line being written counts as new)", async () => {
    writeFileSync(log, lines(0, 5) + line("5\n").slice(0, 9));
    let release!: () => void;
    const stop = new Promise<void>((r) => (release = r));
    const seen: string[] = [];
    const reader = (async () => {
      for await (const e of readLogs(log, { ...all, follow: true, tail: 0 }, stop)) seen.push(dec.decode(e.text));
    })();
    await Bun.sleep(30);
    appendFileSync(log, line("5\n").slice(9) + lines(6, 2));
    await Bun.sleep(40);
    release();
    await reader;
    expect(seen).toEqual(range(5, 3));
  });

  test("the file appears later; stop ends the follow once everything written has been yielded", async () => {
    let release!: () => void;
    const stop = new Promise<void>((r) => (release = r));
    const seen: string[] = [];
    const reader = (async () => {
      for await (const e of readLogs(log, { ...all, follow: true }, stop)) seen.push(dec.decode(e.text));
    })();
    await Bun.sleep(30);
    writeFileSync(log, lines(0, 3));
    await Bun.sleep(30);
    // Written, then stop at once: still yielded.
    appendFileSync(log, lines(3, 1000));
    release();
    await reader;
    expect(seen).toEqual(range(0, 1003));
  });

  test("until ends a follow at the first entry after it, or once it has passed", async () => {
    const now = BigInt(Date.now()) * 1_000_000n;
    const at = (i: number) => line(`${i}\n`, "stdout", now + BigInt(i) * 1_000_000n); // i ms from now
    writeFileSync(log, at(0) + at(1) + at(2));
    const untilNs = now + 4_000_000n;
    const until = `${untilNs / 1_000_000_000n}.${(untilNs % 1_000_000_000n).toString().padStart(9, "0")}`;
    expect(toUnixNanos(until)).toBe(untilNs);
    const seen: string[] = [];
    const reader = (async () => {
      for await (const e of readLogs(log, { ...all, follow: true, until }, new Promise(() => {}))) seen.push(dec.decode(e.text));
    })();
    await Bun.sleep(20);
    appendFileSync(log, at(3) + at(4) + at(5) + at(6));
    await reader;
    expect(seen).toEqual(range(0, 5));
    // An until already past: the follow ends by itself once drained (Docker would wait for one more entry).
    const t = performance.now();
    expect(texts(await collect(log, { follow: true, until: `${T0 / 1_000_000_000n}` }, new Promise(() => {})))).toEqual([]);
    expect(performance.now() - t).toBeLessThan(1000);
  });

  test("started between a rotation's rename and the new file: the rotated file is read, the new one followed", async () => {
    writeFileSync(`${log}.2`, lines(0, 2));
    writeFileSync(`${log}.1`, lines(2, 3)); // PATH was just renamed to PATH.1
    expect(texts(await collect(log))).toEqual(range(0, 5));
    expect(texts(await collect(log, { tail: 4 }))).toEqual(range(1, 4));
    let release!: () => void;
    const stop = new Promise<void>((r) => (release = r));
    const seen: string[] = [];
    const reader = (async () => {
      for await (const e of readLogs(log, { ...all, follow: true, tail: 1 }, stop)) seen.push(dec.decode(e.text));
    })();
    await Bun.sleep(30);
    writeFileSync(log, lines(5, 2));
    await Bun.sleep(30);
    release();
    await reader;
    expect(seen).toEqual(range(4, 3));
  });

  test("leaving the loop closes the files and the watcher", async () => {
    writeFileSync(`${log}.1`, lines(0, 3));
    writeFileSync(log, lines(3, 3));
    const fds = () => readdirSync("/proc/self/fd").length;
    const before = fds();
    let n = 0;
    for await (const _ of readLogs(log, { ...all, follow: true }, new Promise(() => {}))) {
      if (++n === 6) break;
    }
    expect(n).toBe(6);
    expect(fds()).toBe(before);
  });

  // A writer process appends entries and rotates the file as Docker's json-file
  // driver does (PATH -> PATH.1 -> ... with max-file), sometimes splitting a
  // line across two writes, while the reader follows.
  const WRITER = `
import { closeSync, existsSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
const [path, count, every, maxFiles, delayMs, startDelayMs] = process.argv.slice(2).map((a, i) => (i === 0 ? a : Number(a)));
const T0 = ${T0}n;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
await sleep(startDelayMs); // the reader takes its snapshot first
let fd = openSync(path, "a");
function rotate() {
  closeSync(fd);
  let k = 1;
  while (existsSync(path + "." + k)) k++;
  for (let i = k - 1; i >= 1; i--) {
    if (maxFiles > 0 && i + 1 >= maxFiles) unlinkSync(path + "." + i);
    else renameSync(path + "." + i, path + "." + (i + 1));
  }
  renameSync(path, path + ".1");
  fd = openSync(path, "a");
}
for (let i = 0; i < count; i++) {
  const ns = T0 + BigInt(i) * 1000n;
  const iso = new Date(Number(ns / 1000000n)).toISOString().slice(0, 19);
  const frac = (ns % 1000000000n).toString().padStart(9, "0");
  const l = JSON.stringify({ log: i + "\\n", stream: i % 3 ? "stdout" : "stderr", time: iso + "." + frac + "Z" }) + "\\n";
  if (i % 7 === 0) {
    writeSync(fd, l.slice(0, 20));
    await sleep(1);
    writeSync(fd, l.slice(20));
  } else writeSync(fd, l);
  if ((i + 1) % every === 0) rotate();
  if (delayMs > 0 && i % 10 === 0) await sleep(delayMs);
}
closeSync(fd);
`;
  const writerScript = join(base, "writer.mjs");
  writeFileSync(writerScript, WRITER);

  async function followWhileWriting(count: number, every: number, maxFiles: number, delayMs: number, opts: Partial<LogOptions> = {}, startDelayMs = 0) {
    const w = Bun.spawn([process.execPath, writerScript, log, String(count), String(every), String(maxFiles), String(delayMs), String(startDelayMs)], { stderr: "inherit" });
    const seen: LogEntry[] = [];
    try {
      for await (const e of readLogs(log, { ...all, follow: true, ...opts }, w.exited)) seen.push(e);
    } finally {
      w.kill("SIGKILL"); // no-op once it has exited
    }
    expect(await w.exited).toBe(0);
    return seen;
  }

  test("rotations while following: every entry exactly once, in order (fast writer, many rotations)", async () => {
    const seen = await followWhileWriting(5000, 97, 0, 0);
    expect(texts(seen)).toEqual(range(0, 5000));
    expect(readdirSync(dir).filter((f) => f.startsWith("container-json.log.")).length).toBe(Math.floor(5000 / 97));
  });

  test("rotations with max-file 3 (oldest deleted) while following", async () => {
    const seen = await followWhileWriting(3000, 50, 3, 2);
    expect(texts(seen)).toEqual(range(0, 3000));
    expect(readdirSync(dir).filter((f) => f.startsWith("container-json.log")).sort()).toEqual(["container-json.log", "container-json.log.1", "container-json.log.2"]);
  });

  test("follow with a stream filter and tail while rotating", async () => {
    let old = "";
    for (let i = 0; i < 10; i++) old += line(`old ${i}\n`, i % 2 ? "stderr" : "stdout", T0 - 1_000_000_000n + BigInt(i));
    writeFileSync(`${log}.1`, old);
    const seen = await followWhileWriting(2000, 64, 0, 1, { tail: 2, stdout: false }, 300);
    // The tail is "old 8" (stdout, filtered out) and "old 9"; then every stderr entry (i % 3 == 0) of the writer.
    expect(texts(seen)).toEqual(["old 9\n", ...range(0, 2000).filter((_, i) => i % 3 === 0)]);
  });

  /** Non-follow reads, and followers, started over and over while the writer rotates. */
  async function readWhileRotating(count: number, every: number, maxFiles: number) {
    const w = Bun.spawn([process.execPath, writerScript, log, String(count), String(every), String(maxFiles), "0", "0"], { stderr: "inherit" });
    let running = true;
    void w.exited.then(() => (running = false));
    const snapshots: string[][] = [];
    const followers: Promise<string[]>[] = [];
    try {
      while (running) {
        snapshots.push(texts(await collect(log)));
        if (snapshots.length % 10 === 1) followers.push(collect(log, { follow: true }, w.exited).then(texts));
      }
    } finally {
      w.kill("SIGKILL"); // no-op once it has exited
    }
    expect(await w.exited).toBe(0);
    console.log(`${snapshots.length} snapshot reads and ${followers.length} followers during ${Math.floor(count / every)} rotations (max-file ${maxFiles || "unlimited"})`);
    expect(snapshots.length).toBeGreaterThan(5);
    return { snapshots, followers: await Promise.all(followers) };
  }
  const numbers = (xs: string[]) => xs.map(Number);
  const consecutive = (xs: string[]) => numbers(xs).every((x, i, a) => i === 0 || x === a[i - 1]! + 1);
  const increasing = (xs: string[]) => numbers(xs).every((x, i, a) => i === 0 || x > a[i - 1]!);

  test("reads started at any moment of heavy rotation (max-file 10): no duplicate, no disorder, no gap in a snapshot", async () => {
    const count = 4000;
    const { snapshots, followers } = await readWhileRotating(count, 4, 10);
    // A snapshot may miss only the oldest entries (their file deleted): never one in the middle.
    for (const s of snapshots) expect(consecutive(s), s.map(Number).join(" ")).toBe(true);
    // A follower that falls more than 10 rotations behind loses the deleted files (as with Docker),
    // but never repeats or reorders, and reaches the end.
    for (const f of followers) {
      expect(increasing(f), f.map(Number).join(" ")).toBe(true);
      expect(f.at(-1)).toBe(`${count - 1}\n`);
    }
  });

  test("reads started at any moment of rotation without deletion: every entry, exactly once, in order", async () => {
    const count = 3000;
    const { snapshots, followers } = await readWhileRotating(count, 10, 0);
    for (const s of snapshots) expect(s.length === 0 || (s[0] === "0\n" && consecutive(s)), s.map(Number).join(" ")).toBe(true);
    for (const f of followers) expect(f).toEqual(range(0, count));
  });

  test("a writer that renames first and finishes its last write after: the late line is not lost", async () => {
    // A monitor may rotate as rename, last write on the old descriptor, then a new file.
    const fd = openSync(log, "a");
    writeSync(fd, lines(0, 3));
    let release!: () => void;
    const stop = new Promise<void>((r) => (release = r));
    const seen: string[] = [];
    const reader = (async () => {
      for await (const e of readLogs(log, { ...all, follow: true }, stop)) seen.push(dec.decode(e.text));
    })();
    await Bun.sleep(40);
    renameSync(log, `${log}.1`);
    writeFileSync(log, ""); // the new file, still empty
    await Bun.sleep(80); // the reader has found it, and read the old one to its end
    writeSync(fd, lines(3, 1)); // late, into the renamed file
    closeSync(fd);
    appendFileSync(log, lines(4, 2));
    await Bun.sleep(40);
    release();
    await reader;
    expect(seen).toEqual(range(0, 6));
  });

  test("a file truncated in place is read again from its start", async () => {
    writeFileSync(log, lines(0, 3));
    let release!: () => void;
    const stop = new Promise<void>((r) => (release = r));
    const seen: string[] = [];
    const reader = (async () => {
      for await (const e of readLogs(log, { ...all, follow: true }, stop)) seen.push(dec.decode(e.text));
    })();
    await Bun.sleep(30);
    truncateSync(log, 0);
    await Bun.sleep(30);
    appendFileSync(log, lines(10, 2));
    await Bun.sleep(30);
    release();
    await reader;
    expect(seen).toEqual([...range(0, 3), ...range(10, 2)]);
  });
});
