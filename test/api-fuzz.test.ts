// 1,000 malformed requests at berthd (fixed seed: a failure names the
// request that caused it and reproduces): mutated and random bodies for the
// routes that take JSON, random paths and methods, bad query values,
// truncated, oversized, deeply nested and non-UTF-8 bodies, and raw-socket
// abuse (half requests left open, broken request lines, bad chunking).
// Afterwards the daemon is the same process and answers, the container
// that ran all along still runs with its log intact, and nothing leaked.
//
// Safety: no request may reach the network or hurt the running container:
// bodies for /auth and /networks/create are always invalid (a valid one
// would log in to a registry or add a bridge), random paths never name the
// container (random ids are not hex) and never pull, push, kill or prune.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, test } from "vitest";
import { berth, daemonPid, importBusybox, leaks, makeRoot, removeRoot, type TestRoot } from "./helpers/berth.ts";

/** Fixed, so a failure reproduces; BERTH_FUZZ_SEED explores others. */
const SEED = Number(process.env.BERTH_FUZZ_SEED ?? 0xbe27);
const TOTAL = 1000;

let t: TestRoot;
let target: string; // the container that runs through it all
beforeAll(async () => {
  t = makeRoot();
  await importBusybox(t);
  const r = await berth(t, ["run", "-d", "--name", `fuzz-target-${process.pid}`, "bb", "sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done"]);
  expect(r.code).toBe(0);
  target = r.stdout.trim();
});
afterAll(async () => {
  await removeRoot(t);
  expect(leaks(t)).toEqual([]);
});

/** mulberry32: small, seedable, good enough to pick cases. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick };
}
type Rng = ReturnType<typeof rng>;

// Valid-looking bodies per route: the fuzzer mutates them.
const SEEDS: Record<string, object> = {
  "container-create": { Image: "bb", Cmd: ["true"], Env: ["A=1"], Labels: { a: "b" }, HostConfig: { Memory: 0, ShmSize: 65536, Binds: [], PortBindings: {}, RestartPolicy: { Name: "no" } }, NetworkingConfig: { EndpointsConfig: {} } },
  "exec-create": { Cmd: ["true"], AttachStdout: true, Env: ["X=1"], ConsoleSize: [24, 80], Tty: false },
  "exec-start": { Detach: true, Tty: false },
  "network-create": { Name: "fuzznet", Driver: "bridge", IPAM: { Config: [{ Subnet: "10.233.0.0/24" }] }, Labels: {}, Options: {} },
  "network-connect": { Container: "nope-container", EndpointConfig: { Aliases: ["x"], IPAMConfig: { IPv4Address: "10.233.0.9" } } },
  "network-disconnect": { Container: "nope-container", Force: true },
  "volume-create": { Name: "fuzzvol", Driver: "local", Labels: { a: "b" }, DriverOpts: {} },
  commit: { Cmd: ["sh"], Env: ["A=1"], Labels: { a: "b" } },
  auth: { username: "u", password: "p", serveraddress: "127.0.0.1:1" },
};
/** Routes whose bodies must always fail validation (see Safety above). */
const ALWAYS_INVALID = new Set(["network-create", "auth"]);

const routeOf = (name: string): [string, string] => {
  switch (name) {
    case "container-create":
      return ["POST", "/containers/create"];
    case "exec-create":
      return ["POST", `/containers/${target}/exec`];
    case "exec-start":
      return ["POST", "/exec/zz-no-such-exec/start"];
    case "network-create":
      return ["POST", "/networks/create"];
    case "network-connect":
      return ["POST", "/networks/zz-no-such-net/connect"];
    case "network-disconnect":
      return ["POST", "/networks/bridge/disconnect"];
    case "volume-create":
      return ["POST", "/volumes/create"];
    case "commit":
      return ["POST", "/commit?container=zz-no-such-container"];
    default:
      return ["POST", "/auth"];
  }
};

// (No Infinity or NaN: JSON.stringify makes them null, which is every field's zero value.)
const WRONG: unknown[] = ["str", 1.5, -1, 99999999999999999999999, true, [], [1, "x"], {}, { x: { y: [] } }, "\u0000", "💥"];

/** A value of the wrong type for field `key` holding `v`: always a schema failure. */
function wrongFor(key: string, v: unknown, r: Rng): unknown {
  const choices = WRONG.filter(
    (w) =>
      (typeof w !== typeof v || Array.isArray(w) !== Array.isArray(v) || (typeof v === "number" && Number.isInteger(v) && !Number.isInteger(w))) &&
      // Docker's StrSlice takes a string for Cmd and Entrypoint.
      !((key === "Cmd" || key === "Entrypoint") && typeof w === "string"),
  );
  return r.pick(choices);
}

/** Mutate one leaf (or a whole sub-object) of a seed to a wrong type. */
function mutate(body: object, r: Rng): object {
  const copy = structuredClone(body) as Record<string, unknown>;
  let node: Record<string, unknown> = copy;
  for (let depth = 0; depth < 4; depth++) {
    const keys = Object.keys(node);
    if (!keys.length) break;
    const k = r.pick(keys);
    const v = node[k];
    if (typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length && r.next() < 0.6) {
      node = v as Record<string, unknown>;
      continue;
    }
    node[k] = wrongFor(k, v, r);
    return copy;
  }
  return [copy]; // nothing left to mutate: a top level that is not an object
}

/** Random bytes, a fair share of them not UTF-8. */
function junk(r: Rng, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = r.next() < 0.5 ? 0x20 + r.int(95) : r.int(256);
  return b;
}

interface Case {
  what: string;
  method: string;
  path: string;
  body?: Uint8Array | string;
  type?: string;
  /** Expected to be refused (4xx) for sure: a body that cannot validate. */
  mustFail?: boolean;
}

function bodyCase(r: Rng, i: number): Case {
  const name = r.pick(Object.keys(SEEDS));
  const [method, path] = routeOf(name);
  const seed = SEEDS[name]!;
  const valid = JSON.stringify(seed);
  const kind = r.int(ALWAYS_INVALID.has(name) ? 7 : 8);
  const c = (what: string, body: Uint8Array | string, mustFail = true, type = "application/json"): Case => ({ what: `#${i} ${name}: ${what}`, method, path, body, type, mustFail });
  switch (kind) {
    case 0:
      return c("wrong type", JSON.stringify(mutate(seed, r)));
    case 1:
      return c("truncated JSON", valid.slice(0, 1 + r.int(valid.length - 2)));
    case 2:
      return c("junk bytes", junk(r, 1 + r.int(2000)));
    case 3: {
      // A key of raw bytes 0xff 0xfe (latin1): not UTF-8.
      const bytes = Buffer.from(`{"\xff\xfe":1,${valid.slice(1)}`, "latin1");
      return c("invalid UTF-8", new Uint8Array(bytes));
    }
    case 4: {
      const depth = 1000 + r.int(100_000);
      // (Nested objects under an unknown key are valid: not for the always-invalid routes.)
      const arrays = ALWAYS_INVALID.has(name) || r.next() < 0.5;
      return c(`nesting ${depth} deep`, arrays ? `${"[".repeat(depth)}${"]".repeat(depth)}` : `{"Labels":${'{"a":'.repeat(depth)}1${"}".repeat(depth)}}`);
    }
    case 5:
      return c("wrong content type", valid, true, r.pick(["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml"]));
    case 6:
      return c("a top level that is not an object", r.pick(["[]", '"x"', "1", "true", "[{}]"]));
    default: {
      // Valid enough to reach the engine (volumes: a local volume; create: a container never started).
      const body = structuredClone(seed) as Record<string, unknown>;
      if (name === "volume-create") body.Name = r.next() < 0.5 ? `fuzz${i}` : r.pick(["", "..", "a/b", "-x", "x".repeat(300), "\u00e9t\u00e9"]);
      if (name === "container-create") body.Image = r.pick(["bb", "no-such-image", "", "bb:nope", "UPPER", "a".repeat(300)]);
      if (name === "exec-create") body.Cmd = r.pick([[], ["true"], [""], ["/no/such/binary"]]);
      return c("valid-ish", JSON.stringify(body), false);
    }
  }
}

const SEGMENTS = [
  "containers", "images", "networks", "volumes", "exec", "system", "info", "version", "_ping", "json", "logs", "top", "stats", "changes", "export",
  "wait", "resize", "rename", "update", "tag", "history", "get", "df", "distribution", "plugins", "swarm", "nodes", "secrets", "v1.43", "v1.12",
  "v99.99", "..", "%2e%2e", "%00", "%ff", "%E0%A4%A", "%", "zz-nope", "zz%2Fslash", "zz\u00e9", "zz" + "x".repeat(500), "*", "{id}", "null", "-1", "1e400",
];

function pathCase(r: Rng, i: number): Case {
  const n = 1 + r.int(5);
  let path = "";
  for (let k = 0; k < n; k++) path += `/${r.next() < 0.8 ? r.pick(SEGMENTS) : `zz${Buffer.from(junk(r, 1 + r.int(12))).toString("base64url")}`}`;
  if (r.next() < 0.3) path += `?${r.pick(["filters", "all", "limit", "size", "t", "h", "w", "force"])}=${encodeURIComponent(r.pick(["{", "[]", "NaN", "-1", "1e400", "x".repeat(200), "%zz", '{"a":1}']))}`;
  const method = r.pick(["GET", "POST", "DELETE", "PUT", "HEAD", "PATCH", "OPTIONS"]);
  // Never pull, push, log in, kill, prune, or stream forever.
  if (/\/(create|push|auth|prune|kill|events|attach|load|build)\b/.test(path) || /\/stats/.test(path)) path = `/zz-nope${path}`;
  return { what: `#${i} path: ${method} ${path.slice(0, 200)}`, method, path, body: method === "POST" || method === "PUT" ? junk(r, r.int(64)) : undefined };
}

function queryCase(r: Rng, i: number): Case {
  const bad = () => encodeURIComponent(r.pick(["abc", "NaN", "-1", "-99999999999999999999", "1e400", "1.5", "", "{", "[1", "%zz", "\u0000", "x".repeat(3000), '{"label":"x"}', '{"a":{"b":1}}', '{"a":1}']));
  const q = r.pick([
    `GET /containers/${target}/logs?stdout=1&tail=${bad()}`,
    `GET /containers/${target}/logs?stdout=1&tail=5&since=${bad()}`,
    `GET /containers/${target}/logs?stdout=1&tail=5&until=${bad()}`,
    `GET /containers/json?filters=${bad()}&limit=${bad()}`,
    `GET /containers/json?all=${bad()}&filters=${encodeURIComponent('{"status":[1]}')}`,
    `GET /images/json?filters=${bad()}`,
    `GET /networks?filters=${bad()}`,
    `GET /volumes?filters=${bad()}`,
    `GET /containers/${target}/archive?path=${bad()}`,
    `HEAD /containers/${target}/archive?path=${encodeURIComponent(r.pick(["../../../../etc/shadow", "/proc/1/environ", "", "//", "/tmp/../..", "\u0000"]))}`,
    `POST /containers/${target}/resize?h=${bad()}&w=${bad()}`,
    `POST /exec/zz-nope/resize?h=${bad()}&w=${bad()}`,
    `GET /containers/${target}/stats?stream=0&one-shot=${bad()}`,
    `POST /containers/zz-nope/wait?condition=${bad()}`,
    `POST /containers/${target}/rename?name=`,
    `GET /images/${bad()}/json`,
    `GET /volumes/${bad()}`,
    `GET /networks/${bad()}`,
    `GET /containers/${target}/changes`,
    `GET /v1.${bad()}/version`,
  ]);
  const [method, path] = q.split(" ") as [string, string];
  if (r.next() < 0.1) {
    // A build: bad parameters, and a context that is not a tar.
    const p = r.pick(["buildargs", "labels", "dockerfile", "t", "shmsize", "memory", "cachefrom", "platform", "target", "networkmode"]);
    const path = `/build?${p}=${bad()}&q=1`;
    return { what: `#${i} build: POST ${path.slice(0, 200)}`, method: "POST", path, body: junk(r, r.int(3000)), type: "application/x-tar" };
  }
  return { what: `#${i} query: ${q.slice(0, 200)}`, method, path };
}

type Outcome = { status: number; body: string } | { error: string };

async function send(c: Case): Promise<Outcome> {
  const abort = AbortSignal.timeout(15_000);
  try {
    const res = await fetch(`http://berth${c.path}`, {
      method: c.method,
      body: c.body,
      headers: c.type ? { "Content-Type": c.type } : {},
      unix: t.socket,
      signal: abort,
    } as RequestInit);
    return { status: res.status, body: await res.text() };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/** Raw-socket abuse: what the HTTP client above cannot send. */
function rawCases(r: Rng): { what: string; bytes: (Uint8Array | string)[]; holdMs: number }[] {
  const out = [];
  const lines = [
    "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"a\":",
    "POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"Image\":\"bb\"",
    "POST /volumes/create HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nxx\r\n",
    "POST /volumes/create HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\n{}",
    "GARBAGE\r\n\r\n",
    "GET /_ping\r\n\r\n",
    "GET /_ping HTTP/9.9\r\n\r\n",
    "\u0000\u0001\u0002\u0003",
    "GET /_ping HTTP/1.1\r\nHost: x\r\n" + "X: y\r\n".repeat(5000) + "\r\n",
    "GET /_ping HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n",
    "GET /_ping HTTP/1.1\r\nHost: x\r\n\r\nGET /_ping HTTP/1.1\r\nHost: x\r\n\r\n\u00ff\u00fe garbage after two pipelined pings",
    "POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    "POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n{}",
    "POST /exec/zz/start HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 3\r\n\r\n{\"D",
    `POST /containers/zz-nope/attach?stream=1&stdout=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`,
    `POST /containers/%ff/attach?stream=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`,
  ];
  for (const l of lines) out.push({ what: `raw: ${JSON.stringify(l.slice(0, 80))}`, bytes: [l], holdMs: 200 });
  // Slowloris: a request head sent a few bytes at a time, then abandoned.
  for (let k = 0; k < 6; k++) {
    const head = `GET /containers/json HTTP/1.1\r\nHost: x\r\nX-Slow: ${"a".repeat(r.int(50))}`;
    const parts: string[] = [];
    for (let p = 0; p < head.length; p += 7) parts.push(head.slice(p, p + 7));
    out.push({ what: `slowloris ${k}`, bytes: parts, holdMs: 1500 });
  }
  return out;
}

async function sendRaw(c: { bytes: (Uint8Array | string)[]; holdMs: number }): Promise<string> {
  let got = "";
  const sock = await Bun.connect({ unix: t.socket, socket: { data: (_s, d) => void (got += Buffer.from(d).toString("latin1")), error() {}, close() {} } });
  for (const b of c.bytes) {
    sock.write(b);
    if (c.bytes.length > 1) await Bun.sleep(20);
  }
  await Bun.sleep(c.holdMs);
  sock.end();
  return got;
}

/** Numbers of the container's log lines ("tick N"), which must count up without gaps. */
async function ticks(): Promise<number[]> {
  const r = await berth(t, ["logs", target]);
  return r.stdout.trim().split("\n").map((l) => Number(/^tick (\d+)$/.exec(l)?.[1] ?? NaN));
}

test(`${TOTAL} malformed requests: no 5xx, the daemon and a running container unaffected`, { timeout: 300_000 }, async () => {
  const pid = daemonPid(t);
  expect(pid).toBeGreaterThan(0);
  const before = JSON.parse((await berth(t, ["inspect", target])).stdout)[0].State;
  const r = rng(SEED);
  const cases: Case[] = [];
  for (let i = 0; cases.length < TOTAL - 30; i++) {
    const roll = r.next();
    cases.push(roll < 0.55 ? bodyCase(r, i) : roll < 0.8 ? pathCase(r, i) : queryCase(r, i));
  }
  // Oversized bodies, a few (each 11 MiB).
  for (let k = 0; k < 8; k++) {
    const name = r.pick(["container-create", "volume-create", "exec-create", "network-create"]);
    const [method, path] = routeOf(name);
    cases.push({ what: `oversized ${name}`, method, path, body: new Uint8Array(11 * 1024 * 1024).fill(0x20), type: "application/json", mustFail: true });
  }
  const raws = rawCases(r);

  const failures: string[] = [];
  const statuses = new Map<number, number>();
  // Raw abuse runs alongside the HTTP cases; 8 HTTP requests at a time.
  const rawDone = Promise.all(raws.map(async (c) => void (await sendRaw(c).catch((e: Error) => failures.push(`${c.what}: ${e.message}`)))));
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < cases.length) {
        const c = cases[next++]!;
        const o = await send(c);
        if ("error" in o) {
          // The daemon may close a connection on an oversized body while it is still being sent.
          if (!c.what.startsWith("oversized")) failures.push(`${c.what}: no answer (${o.error})`);
          continue;
        }
        statuses.set(o.status, (statuses.get(o.status) ?? 0) + 1);
        const body = o.body.slice(0, 300);
        if (o.status >= 500) failures.push(`${c.what}: ${o.status} ${body}`);
        else if (c.mustFail && o.status < 400) failures.push(`${c.what}: accepted (${o.status}) ${body}`);
        else if (o.status >= 400 && c.method !== "HEAD" && !/^\{"message":".+"\}$/s.test(o.body) && o.status !== 431) failures.push(`${c.what}: ${o.status} without Docker's {"message"}: ${body}`);
      }
    }),
  );
  await rawDone;
  const sent = cases.length + raws.length;
  expect(sent).toBeGreaterThanOrEqual(TOTAL);
  console.log(`fuzz: ${sent} requests, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
  if (failures.length) console.log(`berthd's log:\n${readFileSync(`${t.root}/berthd.log`, "utf8").slice(-4000)}`);
  expect(failures).toEqual([]);

  // The daemon: the same process, still answering.
  expect(daemonPid(t)).toBe(pid);
  expect(await (await fetch("http://berth/_ping", { unix: t.socket } as RequestInit)).text()).toBe("OK");
  // The container: the same run, still running, its log counting on.
  const after = JSON.parse((await berth(t, ["inspect", target])).stdout)[0].State;
  expect(after).toMatchObject({ Running: true, Paused: false, Pid: before.Pid, StartedAt: before.StartedAt });
  const first = await ticks();
  await Bun.sleep(500);
  const second = await ticks();
  expect(second.length).toBeGreaterThan(first.length);
  expect(second).toEqual(second.map((_, i) => i));
});
