// Watch mode end to end on the real kernel: the daemon watches a project's
// develop.watch rules and each action — sync (create, change, delete,
// rename), sync+restart, sync+exec, restart, rebuild — reaches the running
// containers; ignore/include/.dockerignore filter; initial_sync; a restarted
// or recreated container is re-synced; a detached watch outlives its client;
// a compose file edit is reconciled; errors are reported and the watch goes on.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BERTH, importBusybox, leaks, makeRoot, removeRoot, type Result, type TestRoot } from "./helpers/berth.ts";

let t: TestRoot;
beforeAll(async () => {
  t = makeRoot();
  await importBusybox(t, "busybox:latest");
}, 120_000);
afterAll(() => removeRoot(t));

async function collect(proc: Bun.Subprocess<"ignore", "pipe", "pipe">): Promise<Result> {
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

const SLEEPER = `["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1000 & wait; done"]`;

interface Stack {
  name: string;
  dir: string;
  c(args: string[]): Promise<Result>;
  spawn(args: string[]): Bun.Subprocess<"ignore", "pipe", "pipe">;
  write(file: string, text: string): void;
  /** `cat` of a file in the service's container ("" when missing). */
  cat(service: string, path: string): Promise<string>;
}

const stacks: Stack[] = [];
let counter = 0;

function stack(files: Record<string, string>): Stack {
  const name = `watch${++counter}`;
  const dir = mkdtempSync("/tmp/berth-compose-watch-");
  const spawn = (args: string[]) => Bun.spawn([BERTH, ...t.flags, "compose", "-p", name, ...args], { cwd: dir, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const s: Stack = {
    name,
    dir,
    spawn,
    c: (args) => collect(spawn(args)),
    write: (file, text) => {
      mkdirSync(join(dir, file, ".."), { recursive: true });
      writeFileSync(join(dir, file), text);
    },
    cat: async (service, path) => (await s.c(["exec", "-T", service, "sh", "-c", `cat ${path} 2>/dev/null || true`])).stdout,
  };
  for (const [f, text] of Object.entries(files)) s.write(f, text);
  stacks.push(s);
  return s;
}

afterEach(async () => {
  for (const s of stacks.splice(0)) {
    const down = await s.c(["down", "-v", "-t", "0"]);
    expect(down.code, down.stderr).toBe(0);
    rmSync(s.dir, { recursive: true, force: true });
  }
  expect(leaks(t)).toEqual([]);
}, 60_000);

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, tries = 300): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await Bun.sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const until = (s: Stack, service: string, path: string, want: string) =>
  waitFor(`${path} in ${service} to read ${JSON.stringify(want)}`, async () => ((await s.cat(service, path)) === want ? true : undefined));

async function status(s: Stack): Promise<string> {
  return (await s.c(["watch", "--status"])).stdout;
}

const webWithSync = (extra = "") => `services:
  web:
    image: busybox:latest
    command: ${SLEEPER}
    develop:
      watch:
        - path: ./src
          action: sync
          target: /app
          ignore: ["*.tmp", "cache/"]
${extra}`;

describe("sync", () => {
  test("creates, changes, deletes and renames arrive; ignored files do not; the log says what happened", async () => {
    const s = stack({ "compose.yaml": webWithSync(), "src/index.html": "v1\n" });
    const w = await s.c(["watch", "-d"]);
    expect(w.code, w.stderr).toBe(0);
    expect(w.stderr).toContain("Watching web in the daemon");
    s.write("src/index.html", "v2\n");
    await until(s, "web", "/app/index.html", "v2\n");
    s.write("src/sub/deep/new.txt", "new\n");
    await until(s, "web", "/app/sub/deep/new.txt", "new\n");
    renameSync(join(s.dir, "src/sub/deep/new.txt"), join(s.dir, "src/renamed.txt"));
    await until(s, "web", "/app/renamed.txt", "new\n");
    await until(s, "web", "/app/sub/deep/new.txt", "");
    rmSync(join(s.dir, "src/index.html"));
    await until(s, "web", "/app/index.html", "");
    s.write("src/skip.tmp", "no\n");
    s.write("src/cache/x", "no\n");
    s.write("src/after.txt", "after\n");
    await until(s, "web", "/app/after.txt", "after\n");
    // The ignored ones were written before after.txt, and never arrived.
    const ls = (await s.c(["exec", "-T", "web", "ls", "-a", "/app"])).stdout.split("\n").filter(Boolean).sort();
    expect(ls).toEqual([".", "..", "after.txt", "renamed.txt", "sub"]);
    const st = await status(s);
    expect(st).toMatch(/web\s+sync\s+.*\/src\s+\/app/);
    expect(st).toMatch(/\[web\] synced src\/after\.txt to \/app in \d+\.\d ms/);
    expect(st).toMatch(/\[web\] removed src\/index\.html from \/app in \d+\.\d ms/);
  }, 60_000);

  test("initial_sync brings the tree at start (without its ignored files); include keeps only what it names", async () => {
    const s = stack({
      "compose.yaml": `services:
  web:
    image: busybox:latest
    command: ${SLEEPER}
    develop:
      watch:
        - {path: ./src, action: sync, target: /app, initial_sync: true, ignore: ["*.log"]}
        - {path: ./conf, action: sync, target: /etc/app, include: ["*.conf"]}
`,
      "src/a.txt": "a\n",
      "src/d/b.txt": "b\n",
      "src/noise.log": "x\n",
      "conf/keep.conf": "k1\n",
    });
    expect((await s.c(["watch", "-d"])).code).toBe(0);
    await until(s, "web", "/app/d/b.txt", "b\n");
    expect(await s.cat("web", "/app/a.txt")).toBe("a\n");
    expect(await s.cat("web", "/app/noise.log")).toBe("");
    // Without initial_sync nothing of conf/ is there until it changes.
    expect(await s.cat("web", "/etc/app/keep.conf")).toBe("");
    s.write("conf/other.txt", "no\n");
    s.write("conf/keep.conf", "k2\n");
    await until(s, "web", "/etc/app/keep.conf", "k2\n");
    expect(await s.cat("web", "/etc/app/other.txt")).toBe("");
  }, 60_000);

  test("the build context's .dockerignore applies; files belong to the container's user", async () => {
    const s = stack({
      "compose.yaml": `services:
  app:
    build: ./app
    user: "1000:1001"
    command: ${SLEEPER}
    develop:
      watch:
        - {path: ./app/src, action: sync, target: /srv}
`,
      "app/Dockerfile": "FROM busybox:latest\nRUN mkdir -p /srv && chown 1000:1001 /srv\n",
      "app/.dockerignore": "src/secret.env\n",
      "app/src/.keep": "",
    });
    expect((await s.c(["watch", "-d", "--quiet"])).code).toBe(0);
    s.write("app/src/secret.env", "TOKEN=x\n");
    s.write("app/src/main.txt", "main\n");
    await until(s, "app", "/srv/main.txt", "main\n");
    expect(await s.cat("app", "/srv/secret.env")).toBe("");
    expect((await s.c(["exec", "-T", "app", "stat", "-c", "%u:%g", "/srv/main.txt"])).stdout.trim()).toBe("1000:1001");
  }, 60_000);

  test("a batch of 1,000 files arrives whole", async () => {
    const s = stack({ "compose.yaml": webWithSync() });
    expect((await s.c(["watch", "-d"])).code).toBe(0);
    await Bun.sleep(100); // the watchers are ready when watch -d returns; leave the first event loop turn
    for (let d = 0; d < 10; d++) for (let f = 0; f < 100; f++) s.write(`src/batch/d${d}/f${f}.txt`, `${d}-${f}\n`);
    let last = "";
    const count = await waitFor("1000 files", async () => {
      const r = await s.c(["exec", "-T", "web", "sh", "-c", "find /app/batch -type f | wc -l"]);
      last = r.stdout.trim() + r.stderr;
      return r.stdout.trim() === "1000" ? r.stdout.trim() : undefined;
    }).catch(async (err) => {
      throw new Error(`${(err as Error).message}: ${last}\n${await status(s)}`);
    });
    expect(count).toBe("1000");
    const sum = await s.c(["exec", "-T", "web", "sh", "-c", "cat /app/batch/d7/f42.txt /app/batch/d0/f0.txt /app/batch/d9/f99.txt"]);
    expect(sum.stdout).toBe("7-42\n0-0\n9-99\n");
  }, 90_000);
});

describe("actions", () => {
  test("sync+restart restarts the container; sync+exec runs the command after the sync; restart restarts", async () => {
    const s = stack({
      "compose.yaml": `services:
  web:
    image: busybox:latest
    command: ${SLEEPER}
    develop:
      watch:
        - {path: ./conf, action: sync+restart, target: /etc/app}
        - {path: ./hooks, action: sync+exec, target: /hooks, exec: {command: ["sh", "-c", "cat /hooks/h.txt > /tmp/ran"]}}
        - {path: ./trigger, action: restart}
`,
      "conf/.keep": "",
      "hooks/.keep": "",
      "trigger/.keep": "",
    });
    expect((await s.c(["watch", "-d"])).code).toBe(0);
    const pid = async () => (await collect(Bun.spawn([BERTH, ...t.flags, "inspect", "-f", "{{.State.Pid}}", `${s.name}-web-1`], { stdin: "ignore", stdout: "pipe", stderr: "pipe" }))).stdout.trim();
    const p0 = await pid();
    s.write("conf/app.conf", "c1\n");
    const restarted = async (from: string) => {
      const p = await pid();
      return p !== from && p !== "0" ? p : undefined; // 0 while it is between two runs
    };
    const p1 = await waitFor("a restart", () => restarted(p0));
    await until(s, "web", "/etc/app/app.conf", "c1\n");
    s.write("hooks/h.txt", "hook ran\n");
    await until(s, "web", "/tmp/ran", "hook ran\n");
    expect(await pid()).toBe(p1); // sync+exec does not restart
    s.write("trigger/now", "x");
    await waitFor("a restart", () => restarted(p1));
    expect(await status(s)).toMatch(/ran sh -c cat \/hooks\/h\.txt > \/tmp\/ran: exit 0/);
  }, 60_000);

  test("rebuild builds the image again and recreates the service with it", async () => {
    const s = stack({
      "compose.yaml": `services:
  app:
    build: ./app
    command: ${SLEEPER}
    develop:
      watch:
        - {path: ./app/version.txt, action: rebuild}
`,
      "app/Dockerfile": "FROM busybox:latest\nCOPY version.txt /version.txt\n",
      "app/version.txt": "1\n",
    });
    expect((await s.c(["watch", "-d", "--quiet"])).code).toBe(0);
    expect(await s.cat("app", "/version.txt")).toBe("1\n");
    const id0 = (await s.c(["ps", "-q"])).stdout.trim();
    s.write("app/version.txt", "2\n");
    await until(s, "app", "/version.txt", "2\n");
    expect((await s.c(["ps", "-q"])).stdout.trim()).not.toBe(id0);
    expect(await status(s)).toMatch(/\[app\] app\/version\.txt changed: rebuilt watch\d+-app and recreated app in \d+\.\d ms/);
  }, 90_000);

  test("after a rebuild, a dependant with restart: true is restarted once the new container is healthy; up -d --watch starts the watch", async () => {
    const s = stack({
      "compose.yaml": `services:
  app:
    build: ./app
    command: ${SLEEPER}
    healthcheck: {test: ["CMD", "test", "-f", "/version.txt"], interval: 1s, retries: 30}
    develop:
      watch:
        - {path: ./app/version.txt, action: rebuild}
  client:
    image: busybox:latest
    command: ${SLEEPER}
    depends_on:
      app: {condition: service_healthy, restart: true}
`,
      "app/Dockerfile": "FROM busybox:latest\nCOPY version.txt /version.txt\n",
      "app/version.txt": "1\n",
    });
    const up = await s.c(["up", "-d", "--watch"]);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toContain("Watching app in the daemon");
    const pid = async () => (await collect(Bun.spawn([BERTH, ...t.flags, "inspect", "-f", "{{.State.Pid}} {{.RestartCount}} {{.State.StartedAt}}", `${s.name}-client-1`], { stdin: "ignore", stdout: "pipe", stderr: "pipe" }))).stdout.trim();
    const before = await pid();
    const since = Math.floor(Date.now() / 1000);
    s.write("app/version.txt", "2\n");
    await until(s, "app", "/version.txt", "2\n");
    await waitFor("the client's restart", async () => ((await pid()) !== before ? true : undefined));
    // It was restarted after the new app container became healthy: the events say in which order.
    const events = await collect(Bun.spawn([BERTH, ...t.flags, "events", "--since", String(since), "--until", String(Math.ceil(Date.now() / 1000) + 1), "--format", "{{.Action}} {{.Actor.Attributes.name}}"], { stdin: "ignore", stdout: "pipe", stderr: "pipe" }));
    const lines = events.stdout.trim().split("\n");
    const healthy = lines.lastIndexOf(`health_status: healthy ${s.name}-app-1`);
    const started = lines.lastIndexOf(`start ${s.name}-client-1`);
    expect(healthy, events.stdout).toBeGreaterThanOrEqual(0);
    expect(started, events.stdout).toBeGreaterThan(healthy);
  }, 90_000);

  test("a failing rebuild is reported and the watch goes on", async () => {
    const s = stack({
      "compose.yaml": `services:
  app:
    build: ./app
    command: ${SLEEPER}
    develop:
      watch:
        - {path: ./app/Dockerfile, action: rebuild}
        - {path: ./src, action: sync, target: /src}
`,
      "app/Dockerfile": "FROM busybox:latest\n",
      "src/.keep": "",
    });
    expect((await s.c(["watch", "-d", "--quiet"])).code).toBe(0);
    s.write("app/Dockerfile", "FROM busybox:latest\nRUN exit 3\n");
    await waitFor("the failure in the log", async () => ((await status(s)).includes("returned a non-zero code: 3") ? true : undefined));
    s.write("src/still.txt", "still\n");
    await until(s, "app", "/src/still.txt", "still\n");
  }, 90_000);
});

describe("the watch lives in the daemon", () => {
  test("a restarted or recreated container is synced again", async () => {
    const s = stack({ "compose.yaml": webWithSync(), "src/.keep": "" });
    expect((await s.c(["watch", "-d"])).code).toBe(0);
    s.write("src/a.txt", "a\n");
    await until(s, "web", "/app/a.txt", "a\n");
    // A recreate loses the container's files: the watch puts them back.
    expect((await s.c(["up", "-d", "--force-recreate"])).code).toBe(0);
    await until(s, "web", "/app/a.txt", "a\n");
    // A change while the container is stopped arrives when it starts again.
    expect((await s.c(["stop"])).code).toBe(0);
    s.write("src/b.txt", "b\n");
    await waitFor("the log to say it waits", async () => ((await status(s)).includes("no container of web is running") ? true : undefined));
    expect((await s.c(["start"])).code).toBe(0);
    await until(s, "web", "/app/b.txt", "b\n");
    expect(await status(s)).toMatch(/\[web\] watch\d+-web-1 started, re-synced: src -> \/app/);
  }, 60_000);

  test("an attached watch prints its events and ends with its client; a detached one outlives it; down ends it", async () => {
    const s = stack({ "compose.yaml": webWithSync(), "src/.keep": "" });
    expect((await s.c(["up", "-d"])).code).toBe(0);
    const attached = s.spawn(["watch", "--no-up"]);
    const reader = attached.stdout.getReader();
    let out = "";
    await waitFor("watching", async () => ((await status(s)).includes("watching since") ? true : undefined));
    s.write("src/x.txt", "x\n");
    await waitFor("the event on the client", async () => {
      const { value } = await reader.read();
      out += new TextDecoder().decode(value);
      return out.includes("synced src/x.txt") ? true : undefined;
    }, 50);
    attached.kill("SIGKILL");
    await attached.exited;
    await waitFor("the watch to end with its client", async () => ((await status(s)).includes("No watch is running") ? true : undefined));

    expect((await s.c(["watch", "-d", "--no-up"])).code).toBe(0);
    s.write("src/y.txt", "y\n");
    await until(s, "web", "/app/y.txt", "y\n");
    expect(await status(s)).toContain("(detached)");
    expect((await s.c(["down", "-t", "0"])).code).toBe(0);
    expect(await status(s)).toContain("No watch is running");
  }, 60_000);

  test("a compose file edit is reconciled: the plan is logged and only the changed service is recreated", async () => {
    const s = stack({
      "compose.yaml": webWithSync(`  other:
    image: busybox:latest
    command: ${SLEEPER}
`),
      "src/.keep": "",
    });
    expect((await s.c(["watch", "-d"])).code).toBe(0);
    const ids = async () => (await collect(Bun.spawn([BERTH, ...t.flags, "ps", "-q", "--no-trunc", "--filter", `name=${s.name}-other-1`], { stdin: "ignore", stdout: "pipe", stderr: "pipe" }))).stdout.trim();
    const other = await ids();
    s.write("compose.yaml", webWithSync(`  other:
    image: busybox:latest
    command: ${SLEEPER}
`).replace("    command:", "    environment: {MODE: edited}\n    command:"));
    await waitFor("the reconcile", async () => ((await status(s)).includes("reconciled in") ? true : undefined));
    expect(await status(s)).toMatch(/the compose file changed: recreate watch\d+-web-1 \(configuration changed\)/);
    expect((await s.c(["exec", "-T", "web", "sh", "-c", "echo $MODE"])).stdout.trim()).toBe("edited");
    expect(await ids()).toBe(other);
    // A broken edit is reported and changes nothing.
    s.write("compose.yaml", "services:\n  web:\n    image: [\n");
    await waitFor("the error", async () => ((await status(s)).includes("the compose file has an error, nothing changed") ? true : undefined));
    expect(await ids()).toBe(other);
    s.write("compose.yaml", webWithSync(`  other:
    image: busybox:latest
    command: ${SLEEPER}
`)); // for the teardown's down
  }, 60_000);

  test("a service without develop.watch rules cannot be watched: a clear error", async () => {
    const s = stack({ "compose.yaml": `services:\n  plain:\n    image: busybox:latest\n    command: ${SLEEPER}\n` });
    const r = await s.c(["watch", "-d"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("none of the services of watch");
    expect(r.stderr).toContain("has develop.watch rules");
  });
});
