// `berth compose`'s commands and flags end to end on the real kernel, each
// test with its own small compose file in a temp dir and its own project
// name, asserting what Docker Compose v2 does and prints. After every test
// the project is taken down and nothing of it may be left on the host.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { BERTH, importBusybox, leaks, makeRoot, removeRoot, type Result, type TestRoot } from "./helpers/berth.ts";

let t: TestRoot;
let busyboxId: string;
/** A directory with no compose file in it or above it: where commands that must not find one run. */
let empty: string;
beforeAll(async () => {
  t = makeRoot();
  busyboxId = await importBusybox(t, "busybox:latest");
  empty = mkdtempSync("/tmp/berth-compose-cli-empty-");
}, 120_000);
afterAll(async () => {
  await removeRoot(t);
  rmSync(empty, { recursive: true, force: true });
});

/** A container command that runs until stopped and exits 0 on SIGTERM (sh as PID 1 would ignore it). */
const SLEEPER = `["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1000 & wait; done"]`;

async function collect(proc: Bun.Subprocess<"ignore", "pipe", "pipe">): Promise<Result> {
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

function spawn(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  return Bun.spawn([BERTH, ...t.flags, ...args], { cwd: opts.cwd ?? empty, stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, ...opts.env } });
}

/** `berth <args>` in `cwd` (default: a directory without a compose file). */
const berth = (args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) => collect(spawn(args, opts));

interface Stack {
  name: string;
  dir: string;
  /** `berth compose -p NAME ARGS` in the stack's directory (so compose.yaml there is found). */
  c(args: string[], env?: Record<string, string>): Promise<Result>;
  write(file: string, text: string): void;
}

const stacks: Stack[] = [];
let counter = 0;

/** A project in a fresh temp dir with these files (compose.yaml among them, usually). */
function stack(files: Record<string, string>): Stack {
  const name = `cli${++counter}`;
  const dir = mkdtempSync("/tmp/berth-compose-cli-");
  const s: Stack = {
    name,
    dir,
    c: (args, env) => berth(["compose", "-p", name, ...args], { cwd: dir, env }),
    write: (file, text) => {
      mkdirSync(join(dir, file, ".."), { recursive: true });
      writeFileSync(join(dir, file), text);
    },
  };
  for (const [f, text] of Object.entries(files)) s.write(f, text);
  stacks.push(s);
  return s;
}

afterEach(async () => {
  for (const s of stacks.splice(0)) {
    const down = await berth(["compose", "-p", s.name, "down", "-v", "-t", "0", "--remove-orphans"], { cwd: empty });
    expect(down.code, down.stderr).toBe(0);
    rmSync(s.dir, { recursive: true, force: true });
  }
  expect((await berth(["ps", "-aq"])).stdout.trim()).toBe("");
  expect(leaks(t)).toEqual([]);
}, 60_000);

async function inspect(name: string, format: string): Promise<string> {
  const r = await berth(["inspect", "-f", format, name]);
  if (r.code !== 0) throw new Error(`inspect ${name}: ${r.stderr}`);
  return r.stdout.trim();
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, tries = 300): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await Bun.sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Names of the project's containers (one-offs too), with their state, sorted. */
async function states(project: string): Promise<string[]> {
  const r = await berth(["ps", "-a", "--filter", `label=com.docker.compose.project=${project}`, "--format", "{{.Names}} {{.State}}"]);
  return r.stdout.trim().split("\n").filter(Boolean).sort();
}

const lines = (s: string) => s.split("\n").filter(Boolean);

describe("config", () => {
  test("prints the resolved model as YAML and JSON, interpolated from the .env next to the file; --services, --volumes, -q", async () => {
    const s = stack({
      "compose.yaml": `services:
  web:
    image: busybox:\${TAG}
    environment:
      GREETING: \${GREETING:-unset}
      LITERAL: "$$HOME"
    volumes: [data:/data]
  db:
    image: busybox:latest
    volumes: [cache:/cache]
volumes:
  data: {}
  cache: {}
`,
      ".env": "TAG=latest\nGREETING=from dotenv\n",
    });
    const yaml = await s.c(["config"]);
    expect(yaml.code, yaml.stderr).toBe(0);
    expect(yaml.stdout.startsWith(`name: ${s.name}\nservices:\n`)).toBe(true);
    const doc = parseYaml(yaml.stdout);
    expect(Object.keys(doc.services)).toEqual(["db", "web"]);
    expect(doc.services.web.image).toBe("busybox:latest");
    expect(doc.services.web.environment).toEqual({ GREETING: "from dotenv", LITERAL: "$$HOME" }); // $ escaped (see below)
    expect(doc.services.web.volumes).toEqual([{ type: "volume", source: "data", target: "/data" }]);
    expect(doc.volumes.data.name).toBe(`${s.name}_data`);
    expect(doc.networks).toEqual({ default: { name: `${s.name}_default` } });
    expect(doc.volumes.cache).toEqual({ name: `${s.name}_cache` });
    // $ is printed escaped, so that the output loads back to the same model.
    expect(yaml.stdout).toContain("LITERAL: $$HOME\n");
    const again = stack({ "compose.yaml": yaml.stdout });
    const reloaded = await berth(["compose", "-p", s.name, "config"], { cwd: again.dir, env: { HOME: "/nowhere" } });
    expect(reloaded.stdout).toBe(yaml.stdout);

    // The shell's environment wins over .env.
    const json = await s.c(["config", "--format", "json"], { GREETING: "from the shell" });
    expect(json.code, json.stderr).toBe(0);
    const j = JSON.parse(json.stdout);
    expect(j.name).toBe(s.name);
    expect(j.services.web.environment.GREETING).toBe("from the shell");
    expect(j.services.db.volumes[0]).toEqual({ type: "volume", source: "cache", target: "/cache" });

    expect((await s.c(["config", "--services"])).stdout).toBe("db\nweb\n");
    expect((await s.c(["config", "--volumes"])).stdout).toBe("cache\ndata\n");
    const q = await s.c(["config", "-q"]);
    expect(q.code, q.stderr).toBe(0);
    expect(q.stdout).toBe("");
    expect(await states(s.name)).toEqual([]); // config creates nothing
  });

  test("a YAML syntax error, a schema error, an unsupported key and an unknown dependency exit non-zero naming file:line:col, and leave the running project alone", async () => {
    const s = stack({
      "compose.yaml": `services:\n  web:\n    image: busybox:latest\n    command: ${SLEEPER}\n`,
      "syntax.yaml": `services:\n  web:\n    image: busybox:latest\n    command: [sh, -c\n`,
      "schema.yaml": `services:\n  web:\n    image: busybox:latest\n    ports: 80\n`,
      "devices.yaml": `services:\n  web:\n    image: busybox:latest\n    devices:\n      - /dev/null:/dev/null\n`,
      "depends.yaml": `services:\n  web:\n    image: busybox:latest\n    depends_on: [nowhere]\n`,
    });
    const up = await s.c(["up", "-d"]);
    expect(up.code, up.stderr).toBe(0);
    const id = await inspect(`${s.name}-web-1`, "{{.Id}}");
    const cases: [string, RegExp][] = [
      ["syntax.yaml", /^berth: syntax\.yaml:\d+:\d+: /m],
      ["schema.yaml", /^berth: schema\.yaml:4:12: services\.web\.ports: must be a list/m],
      ["devices.yaml", /^berth: devices\.yaml:4:5: services\.web\.devices: berth does not support "devices"/m],
      ["depends.yaml", /^berth: depends\.yaml:4:18: .*depends on undefined service "nowhere"/m],
    ];
    for (const [file, message] of cases) {
      for (const cmd of [["config"], ["up", "-d"]]) {
        const r = await s.c(["-f", file, ...cmd]);
        expect(r.code, `${file} ${cmd.join(" ")}`).not.toBe(0);
        expect(r.stderr).toMatch(message);
        expect(r.stderr).not.toContain("Container");
      }
    }
    expect(await inspect(`${s.name}-web-1`, "{{.Id}} {{.State.Status}} {{.RestartCount}}")).toBe(`${id} running 0`);
    expect(await states(s.name)).toEqual([`${s.name}-web-1 running`]);
  });
});

describe("up", () => {
  test("attached with --exit-code-from: prefixed lines, the chosen service's exit code, everything stopped after", async () => {
    const s = stack({
      "compose.yaml": `services:
  web:
    image: busybox:latest
    command: ["sh", "-c", "echo web is up; trap 'echo web got TERM; exit 0' TERM; while :; do sleep 1000 & wait; done"]
  job:
    image: busybox:latest
    depends_on: [web]
    command: ["sh", "-c", "echo job line 1; echo job line 2; exit 3"]
`,
    });
    const up = await s.c(["up", "--exit-code-from", "job"]);
    expect(up.code, up.stderr).toBe(3);
    const out = lines(up.stdout);
    expect(out[0]).toBe("Attaching to job-1, web-1");
    expect(out).toContain("web-1  | web is up");
    expect(out).toContain("job-1  | job line 1");
    expect(out).toContain("job-1  | job line 2");
    expect(out.indexOf("job-1  | job line 1")).toBeLessThan(out.indexOf("job-1  | job line 2"));
    expect(out).toContain("job-1 exited with code 3");
    expect(out).toContain("web-1 exited with code 0");
    expect(out).toContain("web-1  | web got TERM");
    expect(up.stderr).toContain("Aborting on container exit...");
    expect(up.stderr).toContain(` Container ${s.name}-web-1  Stopped`);
    expect(await states(s.name)).toEqual([`${s.name}-job-1 exited`, `${s.name}-web-1 exited`]);
    expect(await inspect(`${s.name}-job-1`, "{{.State.ExitCode}}")).toBe("3");
  });

  test("attached with --abort-on-container-exit: the first container's exit stops the rest; a one-shot's 'exited with code N'", async () => {
    const s = stack({
      "compose.yaml": `services:
  long:
    image: busybox:latest
    command: ${SLEEPER}
  oneshot:
    image: busybox:latest
    command: ["sh", "-c", "echo one shot; exit 5"]
`,
    });
    const up = await s.c(["up", "--abort-on-container-exit"]);
    expect(up.code, up.stderr).toBe(5);
    expect(lines(up.stdout)).toContain("oneshot-1  | one shot");
    expect(lines(up.stdout)).toContain("oneshot-1 exited with code 5");
    expect(await states(s.name)).toEqual([`${s.name}-long-1 exited`, `${s.name}-oneshot-1 exited`]);

    // Without the flag, up waits for every container: the one-shot alone ends it.
    const solo = await s.c(["up", "oneshot"]);
    expect(lines(solo.stdout)).toContain("oneshot-1 exited with code 5");
    expect(await states(s.name)).toEqual([`${s.name}-long-1 exited`, `${s.name}-oneshot-1 exited`]);
  });

  test("--no-recreate keeps a changed service's container, --force-recreate replaces an unchanged one", async () => {
    const s = stack({ "compose.yaml": `services:\n  web:\n    image: busybox:latest\n    command: ${SLEEPER}\n    environment: {V: "\${V}"}\n` });
    expect((await s.c(["up", "-d"], { V: "1" })).code).toBe(0);
    const id1 = await inspect(`${s.name}-web-1`, "{{.Id}}");
    const keep = await s.c(["up", "-d", "--no-recreate"], { V: "2" });
    expect(keep.code, keep.stderr).toBe(0);
    expect(keep.stderr).not.toContain("Recreate");
    expect(await inspect(`${s.name}-web-1`, "{{.Id}} {{json .Config.Env}}")).toMatch(new RegExp(`^${id1} .*"V=1"`));
    const force = await s.c(["up", "-d", "--force-recreate"], { V: "1" });
    expect(force.code, force.stderr).toBe(0);
    expect(force.stderr).toContain(` Container ${s.name}-web-1  Recreate`);
    expect(force.stderr).toContain(` Container ${s.name}-web-1  Recreated`);
    expect(await inspect(`${s.name}-web-1`, "{{.Id}}")).not.toBe(id1);
    const both = await s.c(["up", "-d", "--force-recreate", "--no-recreate"]);
    expect(both.code).not.toBe(0);
    expect(both.stderr).toContain("incompatible");
  });

  test("up SERVICE brings its dependencies and nothing else; --no-deps only the service", async () => {
    const s = stack({
      "compose.yaml": `services:
  db:
    image: busybox:latest
    command: ${SLEEPER}
  web:
    image: busybox:latest
    command: ${SLEEPER}
    depends_on: [db]
  other:
    image: busybox:latest
    command: ${SLEEPER}
`,
    });
    const noDeps = await s.c(["up", "-d", "--no-deps", "web"]);
    expect(noDeps.code, noDeps.stderr).toBe(0);
    expect(await states(s.name)).toEqual([`${s.name}-web-1 running`]);
    const up = await s.c(["up", "-d", "web"]);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toContain(` Container ${s.name}-db-1  Started`);
    expect(up.stderr).not.toContain("other");
    expect(await states(s.name)).toEqual([`${s.name}-db-1 running`, `${s.name}-web-1 running`]);
    expect((await s.c(["up", "-d", "nosuch"])).stderr).toContain("no such service: nosuch");
  });

  test("--dry-run prints the plan and changes nothing", async () => {
    const s = stack({ "compose.yaml": `services:\n  web:\n    image: busybox:latest\n    command: ${SLEEPER}\n    scale: 2\n` });
    const dry = await s.c(["--dry-run", "up", "-d"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toBe("create web replica 1\ncreate web replica 2\n");
    expect(await states(s.name)).toEqual([]);
    const nets = await berth(["network", "ls", "--format", "{{.Name}}"]);
    expect(lines(nets.stdout)).not.toContain(`${s.name}_default`);
    expect((await s.c(["up", "-d"])).code).toBe(0);
    const again = await s.c(["--dry-run", "up", "-d", "--force-recreate"]);
    expect(again.stdout).toBe(`recreate ${s.name}-web-1 (forced)\nrecreate ${s.name}-web-2 (forced)\n`);
    const ids = await states(s.name);
    const dryDown = await s.c(["--dry-run", "down"]);
    expect(dryDown.stdout).toContain(`${s.name}-web-1`);
    expect(await states(s.name)).toEqual(ids);
  });

  test("--remove-orphans: a service taken out of the file is warned about, then removed with the flag", async () => {
    const two = `services:\n  a:\n    image: busybox:latest\n    command: ${SLEEPER}\n  b:\n    image: busybox:latest\n    command: ${SLEEPER}\n`;
    const s = stack({ "compose.yaml": two });
    expect((await s.c(["up", "-d"])).code).toBe(0);
    s.write("compose.yaml", `services:\n  a:\n    image: busybox:latest\n    command: ${SLEEPER}\n`);
    const warn = await s.c(["up", "-d"]);
    expect(warn.code, warn.stderr).toBe(0);
    expect(warn.stderr).toContain(`Found orphan containers ([${s.name}-b-1]) for this project`);
    expect(await states(s.name)).toEqual([`${s.name}-a-1 running`, `${s.name}-b-1 running`]);
    const rm = await s.c(["up", "-d", "--remove-orphans"]);
    expect(rm.code, rm.stderr).toBe(0);
    expect(rm.stderr).not.toContain("Found orphan containers");
    expect(rm.stderr).toContain(` Container ${s.name}-b-1  Removed`);
    expect(await states(s.name)).toEqual([`${s.name}-a-1 running`]);
  });
});

describe("run and exec", () => {
  test("run --rm: a one-off with the service's settings, -e, the exit code passed through, gone after; run -d", async () => {
    const s = stack({ "compose.yaml": `services:\n  web:\n    image: busybox:latest\n    command: ${SLEEPER}\n    environment: {FROM_FILE: yes-file}\n` });
    const r = await s.c(["run", "--rm", "-e", "EXTRA=given", "web", "sh", "-c", "echo $FROM_FILE $EXTRA; exit 7"]);
    expect(r.code, r.stderr).toBe(7);
    expect(r.stdout).toBe("yes-file given\n");
    expect(await states(s.name)).toEqual([]); // removed, and the service itself was not started
    // While it runs, the one-off carries oneoff=True; it ends when told to, with its code, and is gone.
    const running = collect(spawn(["compose", "-p", s.name, "run", "--rm", "-T", "web", "sh", "-c", "until [ -e /tmp/done ]; do sleep 0.05; done; exit 6"], { cwd: s.dir }));
    const oneoff = await waitFor("the one-off", async () => {
      const r = await berth(["ps", "-q", "--no-trunc", "--filter", `label=com.docker.compose.project=${s.name}`, "--filter", "label=com.docker.compose.oneoff=True"]);
      return r.stdout.trim() || undefined;
    });
    expect(await inspect(oneoff, '{{index .Config.Labels "com.docker.compose.service"}} {{.HostConfig.AutoRemove}}')).toBe("web true");
    expect((await berth(["exec", oneoff, "touch", "/tmp/done"])).code).toBe(0);
    expect((await running).code).toBe(6);
    expect(await states(s.name)).toEqual([]);
    const d = await s.c(["run", "-d", "web", "sleep", "300"]);
    expect(d.code, d.stderr).toBe(0);
    const id = d.stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(await inspect(id, '{{.Name}} {{index .Config.Labels "com.docker.compose.oneoff"}} {{index .Config.Labels "com.docker.compose.service"}} {{.State.Status}} {{.HostConfig.RestartPolicy.Name}}')).toMatch(
      new RegExp(`^/${s.name}-web-run-[0-9a-f]{12} True web running no$`),
    );
    // ps shows one-offs; up does not take them for replicas.
    expect((await s.c(["ps", "-q"])).stdout.trim()).toBe(id);
    const up = await s.c(["up", "-d"]);
    expect(up.stderr).toContain(` Container ${s.name}-web-1  Started`);
  });

  test("exec: the exit code, --index for replica 2, -e, -w, -u", async () => {
    const s = stack({ "compose.yaml": `services:\n  web:\n    image: busybox:latest\n    command: ${SLEEPER}\n    scale: 2\n` });
    expect((await s.c(["up", "-d"])).code).toBe(0);
    const second = (await inspect(`${s.name}-web-2`, "{{.Id}}")).slice(0, 12);
    const first = (await inspect(`${s.name}-web-1`, "{{.Id}}")).slice(0, 12);
    const r = await s.c(["exec", "-T", "--index", "2", "-e", "GIVEN=value", "-w", "/tmp", "-u", "1234", "web", "sh", "-c", "echo $(hostname) $GIVEN $(pwd) $(id -u); exit 9"]);
    expect(r.code, r.stderr).toBe(9);
    expect(r.stdout).toBe(`${second} value /tmp 1234\n`);
    const one = await s.c(["exec", "-T", "web", "hostname"]);
    expect(one.stdout.trim()).toBe(first);
    const three = await s.c(["exec", "-T", "--index", "3", "web", "true"]);
    expect(three.code).not.toBe(0);
    expect(three.stderr).toContain("not running container #3");
  });
});

describe("logs", () => {
  test("--tail, -t, --no-log-prefix, a service filter; -f ends when the containers stop", async () => {
    const s = stack({
      "compose.yaml": `services:
  a:
    image: busybox:latest
    command: ["sh", "-c", "echo a1; echo a2; echo a3; trap 'echo a bye; exit 0' TERM; while :; do sleep 1000 & wait; done"]
  bb:
    image: busybox:latest
    command: ["sh", "-c", "echo b1; trap 'exit 0' TERM; while :; do sleep 1000 & wait; done"]
`,
    });
    expect((await s.c(["up", "-d"])).code).toBe(0);
    await waitFor("the logs", async () => ((await s.c(["logs"])).stdout.includes("b1") && (await s.c(["logs"])).stdout.includes("a3") ? true : undefined));
    const all = lines((await s.c(["logs"])).stdout);
    expect(all.filter((l) => l.startsWith("a-1   | "))).toEqual(["a-1   | a1", "a-1   | a2", "a-1   | a3"]);
    expect(all.filter((l) => l.startsWith("bb-1  | "))).toEqual(["bb-1  | b1"]);
    expect(lines((await s.c(["logs", "--tail", "1", "a"])).stdout)).toEqual(["a-1  | a3"]);
    expect(lines((await s.c(["logs", "--no-log-prefix", "a"])).stdout)).toEqual(["a1", "a2", "a3"]);
    const ts = lines((await s.c(["logs", "-t", "--no-log-prefix", "--tail", "2", "a"])).stdout);
    expect(ts.length).toBe(2);
    for (const [i, l] of ts.entries()) expect(l).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d+Z a${i + 2}$`));

    const follow = spawn(["compose", "-p", s.name, "logs", "-f", "a"], { cwd: s.dir });
    const followed = collect(follow);
    const stop = await s.c(["stop"]);
    expect(stop.code, stop.stderr).toBe(0);
    const f = await followed; // ends by itself once the container has stopped
    expect(f.code, f.stderr).toBe(0);
    expect(lines(f.stdout)).toContain("a-1  | a1");
    expect(lines(f.stdout)).toContain("a-1  | a bye");
  });
});

describe("lifecycle", () => {
  test("restart of a service restarts its dependants with restart: true, not the others", async () => {
    const s = stack({
      "compose.yaml": `services:
  db:
    image: busybox:latest
    command: ${SLEEPER}
  api:
    image: busybox:latest
    command: ${SLEEPER}
    depends_on:
      db: {condition: service_started, restart: true}
  cron:
    image: busybox:latest
    command: ${SLEEPER}
    depends_on:
      db: {condition: service_started, restart: false}
`,
    });
    expect((await s.c(["up", "-d"])).code).toBe(0);
    const pids = async () => Promise.all(["db", "api", "cron"].map((n) => inspect(`${s.name}-${n}-1`, "{{.State.Pid}}")));
    const [db, api, cron] = await pids();
    const r = await s.c(["restart", "db"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.indexOf(`${s.name}-db-1  Started`)).toBeLessThan(r.stderr.indexOf(`${s.name}-api-1  Restarting`));
    expect(r.stderr).not.toContain("cron");
    const [db2, api2, cron2] = await pids();
    expect(db2).not.toBe(db);
    expect(api2).not.toBe(api);
    expect(cron2).toBe(cron);
  });

  test("stop, start, restart, kill -s, pause, unpause, rm -f, rm -s -f: progress lines and states", async () => {
    const s = stack({
      "compose.yaml": `services:
  db:
    image: busybox:latest
    command: ${SLEEPER}
  web:
    image: busybox:latest
    depends_on: [db]
    command: ["sh", "-c", "trap 'echo got USR1' USR1; trap 'exit 0' TERM; while :; do sleep 1000 & wait; done"]
`,
    });
    const [db, web] = [`${s.name}-db-1`, `${s.name}-web-1`];
    expect((await s.c(["up", "-d"])).code).toBe(0);

    const stop = await s.c(["stop"]);
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.stderr).toContain(` Container ${web}  Stopping\n`);
    expect(stop.stderr).toContain(` Container ${web}  Stopped\n`);
    expect(stop.stderr.indexOf(`${web}  Stopped`)).toBeLessThan(stop.stderr.indexOf(`${db}  Stopping`)); // dependants first
    expect(await states(s.name)).toEqual([`${db} exited`, `${web} exited`]);

    const start = await s.c(["start"]);
    expect(start.code, start.stderr).toBe(0);
    expect(start.stderr.indexOf(`${db}  Started`)).toBeLessThan(start.stderr.indexOf(`${web}  Starting`));
    expect(await states(s.name)).toEqual([`${db} running`, `${web} running`]);

    const pid = await inspect(web, "{{.State.Pid}}");
    const restart = await s.c(["restart", "web"]);
    expect(restart.code, restart.stderr).toBe(0);
    expect(restart.stderr).toBe(` Container ${web}  Restarting\n Container ${web}  Started\n`);
    expect(await inspect(web, "{{.State.Status}}")).toBe("running");
    expect(await inspect(web, "{{.State.Pid}}")).not.toBe(pid);

    const usr1 = await s.c(["kill", "-s", "SIGUSR1", "web"]);
    expect(usr1.code, usr1.stderr).toBe(0);
    expect(usr1.stderr).toBe(` Container ${web}  Killing\n Container ${web}  Killed\n`);
    await waitFor("the trap", async () => ((await s.c(["logs", "web"])).stdout.includes("got USR1") ? true : undefined));
    expect(await inspect(web, "{{.State.Status}}")).toBe("running");

    const pause = await s.c(["pause"]);
    expect(pause.stderr).toContain(` Container ${db}  Paused`);
    expect(await states(s.name)).toEqual([`${db} paused`, `${web} paused`]);
    const unpause = await s.c(["unpause", "db"]);
    expect(unpause.stderr).toBe(` Container ${db}  Unpausing\n Container ${db}  Unpaused\n`);
    expect(await states(s.name)).toEqual([`${db} running`, `${web} paused`]);
    expect((await s.c(["unpause"])).code).toBe(0);

    const kill = await s.c(["kill", "db"]);
    expect(kill.code, kill.stderr).toBe(0);
    expect(await inspect(db, "{{.State.Status}} {{.State.ExitCode}}")).toBe("exited 137");

    // rm -f takes only the stopped ones; rm -s -f stops the rest first.
    const rm = await s.c(["rm", "-f"]);
    expect(rm.code, rm.stderr).toBe(0);
    expect(rm.stderr).toBe(` Container ${db}  Removing\n Container ${db}  Removed\n`);
    expect(await states(s.name)).toEqual([`${web} running`]);
    const rms = await s.c(["rm", "-s", "-f"]);
    expect(rms.code, rms.stderr).toBe(0);
    expect(rms.stderr).toBe(` Container ${web}  Stopping\n Container ${web}  Stopped\n Container ${web}  Removing\n Container ${web}  Removed\n`);
    expect(await states(s.name)).toEqual([]);
    expect((await s.c(["rm", "-f"])).stderr).toBe("No stopped containers\n");
  });
});

describe("inspecting the stack", () => {
  test("top, port (--index), images", async () => {
    const hostPort = await freePort();
    const s = stack({
      "compose.yaml": `services:
  web:
    image: busybox:latest
    command: ${SLEEPER}
    ports: ["127.0.0.1:${hostPort}:80"]
  api:
    image: busybox:latest
    command: ${SLEEPER}
    ports: ["80"]
    scale: 2
`,
    });
    expect((await s.c(["up", "-d"])).code).toBe(0);
    expect((await s.c(["port", "web", "80"])).stdout).toBe(`127.0.0.1:${hostPort}\n`);
    const published = async (n: number) => inspect(`${s.name}-api-${n}`, '{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}');
    const [p1, p2] = [await published(1), await published(2)];
    expect(p1).not.toBe(p2);
    expect((await s.c(["port", "api", "80"])).stdout).toBe(`0.0.0.0:${p1}\n`);
    expect((await s.c(["port", "--index", "2", "api", "80"])).stdout).toBe(`0.0.0.0:${p2}\n`);
    const noPort = await s.c(["port", "web", "81"]);
    expect(noPort.code).not.toBe(0);

    const top = await s.c(["top", "web"]);
    expect(top.code, top.stderr).toBe(0);
    const topLines = lines(top.stdout);
    expect(topLines[0]).toBe(`${s.name}-web-1`);
    expect(topLines[1]).toMatch(/^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD$/);
    expect(topLines.some((l) => /\ssleep 1000$/.test(l))).toBe(true);
    expect(top.stdout).not.toContain(`${s.name}-api-1`);

    const images = await s.c(["images"]);
    expect(images.code, images.stderr).toBe(0);
    const rows = lines(images.stdout);
    expect(rows[0]).toMatch(/^CONTAINER\s+REPOSITORY\s+TAG\s+IMAGE ID\s+SIZE$/);
    const short = busyboxId.replace(/^sha256:/, "").slice(0, 12);
    for (const name of [`${s.name}-api-1`, `${s.name}-api-2`, `${s.name}-web-1`]) expect(rows).toContainEqual(expect.stringMatching(new RegExp(`^${name}\\s+busybox\\s+latest\\s+${short}\\s+\\S+`)));
    expect(rows.length).toBe(4);
  });

  test("ps -a, -q, --services, --format json, --status; ls -a, -q, --format json", async () => {
    const s = stack({
      "compose.yaml": `services:
  web:
    image: busybox:latest
    command: ${SLEEPER}
  job:
    image: busybox:latest
    command: ["sh", "-c", "exit 3"]
`,
    });
    expect((await s.c(["up", "-d"])).code).toBe(0);
    await waitFor("the job to end", async () => ((await inspect(`${s.name}-job-1`, "{{.State.Status}}")) === "exited" ? true : undefined));
    const ps = await s.c(["ps"]);
    expect(lines(ps.stdout)[0]).toMatch(/^NAME\s+IMAGE\s+COMMAND\s+SERVICE\s+CREATED\s+STATUS\s+PORTS$/);
    expect(lines(ps.stdout).length).toBe(2);
    expect(ps.stdout).toMatch(new RegExp(`${s.name}-web-1\\s+busybox:latest\\s+"sh -c trap 'exit 0'…"\\s+web\\s+.*\\sUp `));
    const psa = await s.c(["ps", "-a"]);
    expect(psa.stdout).toMatch(new RegExp(`${s.name}-job-1\\s+busybox:latest\\s+"sh -c exit 3"\\s+job\\s+.*Exited \\(3\\)`));
    const webId = await inspect(`${s.name}-web-1`, "{{.Id}}");
    expect((await s.c(["ps", "-q"])).stdout).toBe(`${webId}\n`);
    expect((await s.c(["ps", "-a", "--services"])).stdout).toBe("job\nweb\n");
    const json = lines((await s.c(["ps", "-a", "--format", "json"])).stdout).map((l) => JSON.parse(l));
    expect(json.map((c) => [c.Name, c.Service, c.State, c.Project])).toEqual([
      [`${s.name}-job-1`, "job", "exited", s.name],
      [`${s.name}-web-1`, "web", "running", s.name],
    ]);
    expect(json[1].ID).toBe(webId);
    expect(json.map((c) => [c.ExitCode, c.Health, c.Publishers])).toEqual([[3, "", []], [0, "", []]]);
    expect(json[1].Labels).toContain(`com.docker.compose.service=web`);
    expect(json[1].Command).toBe(`"sh -c trap 'exit 0' TERM; while :; do sleep 1000 & wait; done"`);
    expect((await s.c(["ps", "-a", "--status", "exited", "--services"])).stdout).toBe("job\n");
    expect((await s.c(["ps", "--status", "running", "--services"])).stdout).toBe("web\n");

    const file = `${s.dir}/compose.yaml`;
    const lsJson = JSON.parse((await berth(["compose", "ls", "--format", "json"])).stdout) as { Name: string; Status: string; ConfigFiles: string }[];
    expect(lsJson.find((p) => p.Name === s.name)).toEqual({ Name: s.name, Status: "exited(1), running(1)", ConfigFiles: file });
    expect(lines((await berth(["compose", "ls", "-q"])).stdout)).toContain(s.name);
    expect((await s.c(["stop"])).code).toBe(0);
    expect(lines((await berth(["compose", "ls", "-q"])).stdout)).not.toContain(s.name);
    expect(lines((await berth(["compose", "ls", "-a", "-q"])).stdout)).toContain(s.name);
    const lsa = await berth(["compose", "ls", "-a"]);
    expect(lsa.stdout).toMatch(new RegExp(`^${s.name}\\s+exited\\(2\\)\\s+${file.replace(/[/.]/g, "\\$&")}$`, "m"));
  });

  test("events --json shows a restart's events until the process is killed", async () => {
    const s = stack({ "compose.yaml": `services:\n  web:\n    image: busybox:latest\n    command: ${SLEEPER}\n` });
    expect((await s.c(["up", "-d"])).code).toBe(0);
    const id = await inspect(`${s.name}-web-1`, "{{.Id}}");
    const events = spawn(["compose", "-p", s.name, "events", "--json"], { cwd: s.dir });
    let out = "";
    const reading = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of events.stdout as unknown as AsyncIterable<Uint8Array>) out += decoder.decode(chunk, { stream: true });
    })();
    const seen = () => lines(out).map((l) => JSON.parse(l) as { action: string; id: string; service: string; type: string; time: string; attributes: Record<string, string> });
    // A whole restart: the container dies, then starts again.
    const whole = () => {
      const got = seen();
      const die = got.findIndex((e) => e.action === "die");
      return die >= 0 && got.slice(die).some((e) => e.action === "start");
    };
    try {
      // The subscription starts at some point after the spawn: restart until it has seen a whole one.
      await waitFor(
        "a restart's events",
        async () => {
          expect((await s.c(["restart"])).code).toBe(0);
          for (let i = 0; i < 20 && !whole(); i++) await Bun.sleep(50);
          return whole() ? true : undefined;
        },
        20,
      );
    } finally {
      events.kill();
    }
    expect(await events.exited).not.toBe(0); // it ran until killed
    await reading;
    const got = seen();
    const start = got.find((e) => e.action === "start")!;
    expect(start).toMatchObject({ type: "container", id, service: "web", attributes: { name: `${s.name}-web-1`, image: "busybox:latest" } });
    expect(start.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/);
    expect(got.find((e) => e.action === "die")).toMatchObject({ type: "container", id, service: "web", attributes: { name: `${s.name}-web-1`, exitCode: "0" } });
    expect(got.every((e) => e.id === id)).toBe(true);
  });
});

describe("down", () => {
  test("down -p NAME with no compose file takes the project away", async () => {
    const s = stack({ "compose.yaml": `services:\n  web:\n    image: busybox:latest\n    command: ${SLEEPER}\n` });
    expect((await s.c(["up", "-d"])).code).toBe(0);
    const down = await berth(["compose", "-p", s.name, "down"], { cwd: empty });
    expect(down.code, down.stderr).toBe(0);
    expect(down.stderr).toContain(` Container ${s.name}-web-1  Removed`);
    expect(down.stderr).toContain(` Network ${s.name}_default  Removed`);
    expect(await states(s.name)).toEqual([]);
    expect(lines((await berth(["network", "ls", "--format", "{{.Name}}"])).stdout)).not.toContain(`${s.name}_default`);
    const noName = await berth(["compose", "down"], { cwd: empty });
    expect(noName.code).not.toBe(0);
    expect(noName.stderr).toContain("no configuration file provided");
  });

  test("down SERVICE removes that service's containers only; down --rmi local removes the built image", async () => {
    const s = stack({
      "compose.yaml": `services:
  db:
    image: busybox:latest
    command: ${SLEEPER}
  web:
    build: ./web
    command: ${SLEEPER}
    depends_on: [db]
`,
      "web/Dockerfile": "FROM busybox:latest\nRUN echo built > /built\n",
    });
    const up = await s.c(["up", "-d"]);
    expect(up.code, up.stderr).toBe(0);
    expect((await s.c(["exec", "-T", "web", "cat", "/built"])).stdout).toBe("built\n");
    const downWeb = await s.c(["down", "web"]);
    expect(downWeb.code, downWeb.stderr).toBe(0);
    expect(downWeb.stderr).toContain(` Container ${s.name}-web-1  Removed`);
    expect(downWeb.stderr).not.toContain("Network");
    expect(await states(s.name)).toEqual([`${s.name}-db-1 running`]);
    expect((await s.c(["up", "-d"])).code).toBe(0);
    const down = await s.c(["down", "--rmi", "local"]);
    expect(down.code, down.stderr).toBe(0);
    expect(down.stderr).toContain(` Image ${s.name}-web  Removed`);
    const images = lines((await berth(["images", "--format", "{{.Repository}}"])).stdout);
    expect(images).not.toContain(`${s.name}-web`);
    expect(images).toContain("busybox");
  });

  test("down -v removes the named and the anonymous volumes; down without -v keeps them", async () => {
    const s = stack({
      "compose.yaml": `services:
  web:
    image: busybox:latest
    command: ${SLEEPER}
    volumes: [named:/named, /anonymous]
volumes:
  named: {}
`,
    });
    const before = lines((await berth(["volume", "ls", "-q"])).stdout);
    expect((await s.c(["up", "-d"])).code).toBe(0);
    const anonymous = await inspect(`${s.name}-web-1`, '{{range .Mounts}}{{if eq .Destination "/anonymous"}}{{.Name}}{{end}}{{end}}');
    expect(anonymous).toMatch(/^[0-9a-f]{64}$/);
    expect((await s.c(["down"])).code).toBe(0);
    const kept = lines((await berth(["volume", "ls", "-q"])).stdout);
    expect(kept).toContain(`${s.name}_named`);
    expect(kept).toContain(anonymous);
    await berth(["volume", "rm", anonymous]);
    expect((await s.c(["up", "-d"])).code).toBe(0);
    const anonymous2 = await inspect(`${s.name}-web-1`, '{{range .Mounts}}{{if eq .Destination "/anonymous"}}{{.Name}}{{end}}{{end}}');
    const down = await s.c(["down", "-v"]);
    expect(down.code, down.stderr).toBe(0);
    expect(down.stderr).toContain(` Volume ${s.name}_named  Removed`);
    const after = lines((await berth(["volume", "ls", "-q"])).stdout);
    expect(after).not.toContain(anonymous2);
    expect(after).toEqual(before);
  });

  test("down -t 0 does not wait for a slow shutdown that the file's stop_grace_period would", async () => {
    const s = stack({
      "compose.yaml": `services:
  web:
    image: busybox:latest
    stop_grace_period: 30s
    command: ["sh", "-c", "trap 'sleep 1; echo clean >> /data/shutdowns; exit 0' TERM; while :; do sleep 1000 & wait; done"]
    volumes: [data:/data]
volumes:
  data: {}
`,
    });
    const shutdowns = async () => (await berth(["run", "--rm", "-v", `${s.name}_data:/data`, "busybox:latest", "sh", "-c", "cat /data/shutdowns 2>/dev/null; true"])).stdout;
    expect((await s.c(["up", "-d"])).code).toBe(0);
    expect((await s.c(["stop"])).code).toBe(0);
    expect(await shutdowns()).toBe("clean\n");
    expect((await s.c(["up", "-d"])).code).toBe(0);
    const down = await s.c(["down", "-t", "0"]);
    expect(down.code, down.stderr).toBe(0);
    expect(down.stderr).toContain(` Container ${s.name}-web-1  Removed`);
    expect(await shutdowns()).toBe("clean\n"); // the second shutdown was cut short
  });
});

/** A 10.250.N.0/24 that overlaps no route of the host (or undefined). */
function freeSubnet(): string | undefined {
  const routes = JSON.parse(Bun.spawnSync(["ip", "-j", "route"]).stdout.toString() || "[]") as { dst: string }[];
  const toInt = (ip: string) => ip.split(".").reduce((a, b) => a * 256 + Number(b), 0);
  const range = (cidr: string): [number, number] => {
    const [ip, bits] = cidr.includes("/") ? cidr.split("/") : [cidr, "32"];
    const size = 2 ** (32 - Number(bits));
    const start = Math.floor(toInt(ip!) / size) * size;
    return [start, start + size - 1];
  };
  const taken = routes.filter((r) => r.dst && r.dst !== "default").map((r) => range(r.dst));
  for (let n = 1; n < 255; n++) {
    const [a, b] = range(`10.250.${n}.0/24`);
    if (!taken.some(([x, y]) => x <= b && a <= y)) return `10.250.${n}.0/24`;
  }
  return undefined;
}

describe("service settings", () => {
  test("external networks and volumes are used and left by down -v; a missing one is a clear error", async () => {
    const s = stack({
      "compose.yaml": `services:
  web:
    image: busybox:latest
    command: ${SLEEPER}
    networks: [outside]
    volumes: [kept:/kept]
networks:
  outside: {external: true, name: NETNAME}
volumes:
  kept: {external: true, name: VOLNAME}
`.replace("NETNAME", "cli-ext-net").replace("VOLNAME", "cli-ext-vol"),
    });
    try {
      const missingNet = await s.c(["up", "-d"]);
      expect(missingNet.code).not.toBe(0);
      expect(missingNet.stderr).toContain("network cli-ext-net declared as external, but could not be found");
      expect((await berth(["network", "create", "cli-ext-net"])).code).toBe(0);
      const missingVol = await s.c(["up", "-d"]);
      expect(missingVol.code).not.toBe(0);
      expect(missingVol.stderr).toContain('external volume "cli-ext-vol" not found');
      expect(await states(s.name)).toEqual([]);
      expect((await berth(["volume", "create", "cli-ext-vol"])).code).toBe(0);
      const up = await s.c(["up", "-d"]);
      expect(up.code, up.stderr).toBe(0);
      expect(up.stderr).not.toMatch(/Network .* Creat|Volume .* Creat/);
      expect(await inspect(`${s.name}-web-1`, "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}{{range .Mounts}}{{.Name}}{{end}}")).toBe("cli-ext-net cli-ext-vol");
      expect((await s.c(["exec", "-T", "web", "sh", "-c", "echo kept > /kept/x"])).code).toBe(0);
      const down = await s.c(["down", "-v"]);
      expect(down.code, down.stderr).toBe(0);
      expect(down.stderr).not.toContain("cli-ext");
      expect(lines((await berth(["network", "ls", "--format", "{{.Name}}"])).stdout)).toContain("cli-ext-net");
      expect(lines((await berth(["volume", "ls", "-q"])).stdout)).toContain("cli-ext-vol");
      expect((await berth(["run", "--rm", "-v", "cli-ext-vol:/kept", "busybox:latest", "cat", "/kept/x"])).stdout).toBe("kept\n");
    } finally {
      await s.c(["down", "-t", "0"]);
      await berth(["network", "rm", "cli-ext-net"]);
      await berth(["volume", "rm", "cli-ext-vol"]);
    }
  });

  test("pull_policy: never with a missing image is a clear error that creates nothing", async () => {
    const s = stack({ "compose.yaml": `services:\n  web:\n    image: cli-not-here/at-all:1\n    pull_policy: never\n` });
    const up = await s.c(["up", "-d"]);
    expect(up.code).not.toBe(0);
    expect(up.stderr).toContain('service "web": image cli-not-here/at-all:1 is not there and pull_policy is never');
    expect(up.stderr).not.toContain("Pulling");
    expect(await states(s.name)).toEqual([]);
  });

  test("a static ipv4_address on an ipam subnet, aliases, network_mode: service:x, extra_hosts, dns, hostname, container_name", async (ctx) => {
    const subnet = freeSubnet();
    // Skipped only on a host whose routes cover every 10.250.N.0/24: a subnet of ours
    // there would shadow a real network, and the test must not send traffic to one.
    if (!subnet) return ctx.skip();
    const base = subnet.replace(/0\/24$/, "");
    const s = stack({
      "compose.yaml": `services:
  a:
    image: busybox:latest
    command: ${SLEEPER}
    hostname: ahost
    container_name: CNAME
    extra_hosts: ["somehost:10.1.2.3"]
    dns: ["10.9.9.9"]
    networks:
      n:
        ipv4_address: ${base}77
        aliases: [alpha]
  joined:
    image: busybox:latest
    command: ${SLEEPER}
    network_mode: service:a
  c:
    image: busybox:latest
    command: ${SLEEPER}
    networks: [n]
networks:
  n:
    ipam:
      config: [{subnet: ${subnet}}]
`.replace("CNAME", "cli-custom-name"),
    });
    const up = await s.c(["up", "-d"]);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toContain(" Container cli-custom-name  Started");
    expect(up.stderr.indexOf("cli-custom-name  Started")).toBeLessThan(up.stderr.indexOf(`${s.name}-joined-1  Starting`));
    const a = await s.c(["exec", "-T", "a", "sh", "-c", "hostname; ip -4 -o addr show eth0; cat /sys/class/net/eth0/address; grep somehost /etc/hosts; grep nameserver /etc/resolv.conf"]);
    const [hostname, addr, mac, hosts, ns] = lines(a.stdout);
    expect(hostname).toBe("ahost");
    expect(addr).toContain(`inet ${base}77/24`);
    expect(hosts).toMatch(/^10\.1\.2\.3\s+somehost$/);
    expect(ns).toBe("nameserver 10.9.9.9");
    const joined = await s.c(["exec", "-T", "joined", "cat", "/sys/class/net/eth0/address"]);
    expect(joined.stdout.trim()).toBe(mac);
    const c = await s.c(["exec", "-T", "c", "sh", "-c", "nslookup alpha; nslookup a"]);
    expect(c.stdout.match(new RegExp(`Address: ${base.replace(/\./g, "\\.")}77`, "g"))?.length).toBe(2);
    expect(await inspect("cli-custom-name", '{{index .Config.Labels "com.docker.compose.service"}} {{json .HostConfig.Dns}}')).toBe('a ["10.9.9.9"]');
  });

  test("user, working_dir, labels, stop_signal, stop_grace_period, tmpfs, ulimits, healthcheck disable", async () => {
    const s = stack({
      "compose.yaml": `services:
  web:
    image: busybox:latest
    command: ["sh", "-c", "trap 'echo stopped by USR1; exit 0' USR1; while :; do sleep 1000 & wait; done"]
    user: "1234:5678"
    working_dir: /tmp
    labels: {com.example.team: "storage", com.example.tier: "2"}
    stop_signal: SIGUSR1
    stop_grace_period: 7s
    tmpfs: ["/scratch:size=1m"]
    ulimits: {nofile: {soft: 200, hard: 300}, nproc: 64}
    healthcheck: {disable: true}
`,
    });
    expect((await s.c(["up", "-d"])).code).toBe(0);
    const name = `${s.name}-web-1`;
    const r = await s.c(["exec", "-T", "web", "sh", "-c", "id -u; id -g; pwd; grep ' /scratch ' /proc/mounts; ulimit -n; ulimit -Hn; ulimit -u"]);
    const [uid, gid, cwd, mount, soft, hard, nproc] = lines(r.stdout);
    expect([uid, gid, cwd, soft, hard, nproc]).toEqual(["1234", "5678", "/tmp", "200", "300", "64"]);
    expect(mount).toMatch(/^tmpfs \/scratch tmpfs .*size=1024k/);
    expect(await inspect(name, '{{index .Config.Labels "com.example.team"}} {{index .Config.Labels "com.example.tier"}} {{.Config.StopSignal}} {{.Config.StopTimeout}} {{json .Config.Healthcheck.Test}} {{json .State.Health}}')).toBe(
      'storage 2 SIGUSR1 7 ["NONE"] null',
    );
    expect((await berth(["ps", "-q", "--no-trunc", "--filter", "label=com.example.team=storage"])).stdout.trim()).toBe(await inspect(name, "{{.Id}}"));
    // stop sends the stop signal.
    expect((await s.c(["stop"])).code).toBe(0);
    expect(await inspect(name, "{{.State.ExitCode}}")).toBe("0");
    expect(lines((await s.c(["logs", "--no-log-prefix"])).stdout)).toEqual(["stopped by USR1"]);
  });

  test("restart: on-failure:2 restarts a failing command twice, then it stays exited", async () => {
    const s = stack({
      "compose.yaml": `services:
  flaky:
    image: busybox:latest
    command: ["sh", "-c", "echo attempt; exit 4"]
    restart: on-failure:2
`,
    });
    expect((await s.c(["up", "-d"])).code).toBe(0);
    const name = `${s.name}-flaky-1`;
    await waitFor("the retries to run out", async () => ((await inspect(name, "{{.State.Status}} {{.RestartCount}}")) === "exited 2" ? true : undefined));
    expect(await inspect(name, "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}")).toBe("exited 2 4 on-failure:2");
    expect(lines((await s.c(["logs", "--no-log-prefix"])).stdout)).toEqual(["attempt", "attempt", "attempt"]);
  });

  test("depends_on with required: false on a missing service; profiles and --profile", async () => {
    const s = stack({
      "compose.yaml": `services:
  web:
    image: busybox:latest
    command: ${SLEEPER}
    depends_on:
      ghost: {condition: service_started, required: false}
      debug: {condition: service_started, required: false}
  debug:
    image: busybox:latest
    command: ${SLEEPER}
    profiles: [tools]
`,
    });
    expect((await s.c(["config", "--services"])).stdout).toBe("web\n");
    expect((await s.c(["--profile", "tools", "config", "--services"])).stdout).toBe("debug\nweb\n");
    expect((await s.c(["config", "--profiles"])).stdout).toBe("tools\n");
    const up = await s.c(["up", "-d"]);
    expect(up.code, up.stderr).toBe(0);
    expect(await states(s.name)).toEqual([`${s.name}-web-1 running`]);
    const withProfile = await s.c(["--profile", "tools", "up", "-d"]);
    expect(withProfile.code, withProfile.stderr).toBe(0);
    expect(withProfile.stderr).toContain(` Container ${s.name}-debug-1  Started`);
    expect(await states(s.name)).toEqual([`${s.name}-debug-1 running`, `${s.name}-web-1 running`]);
  });

  test("env_file and several -f files merged", async () => {
    const s = stack({
      "base.yaml": `services:
  web:
    image: busybox:latest
    command: ${SLEEPER}
    env_file: [vars.env]
    environment: {FROM: base, KEEP: base}
    labels: {layer: base}
`,
      "override.yaml": `services:
  web:
    environment: {FROM: override}
    labels: {extra: yes-override}
  sidecar:
    image: busybox:latest
    command: ${SLEEPER}
`,
      "vars.env": "FILE_VAR=from the env file\nKEEP=from the env file\n",
    });
    const files = ["-f", "base.yaml", "-f", "override.yaml"];
    const cfg = JSON.parse((await s.c([...files, "config", "--format", "json"])).stdout);
    expect(Object.keys(cfg.services)).toEqual(["sidecar", "web"]);
    expect(cfg.services.web.environment).toEqual({ FILE_VAR: "from the env file", FROM: "override", KEEP: "base" });
    expect(cfg.services.web.labels).toEqual({ layer: "base", extra: "yes-override" });
    const up = await s.c([...files, "up", "-d"]);
    expect(up.code, up.stderr).toBe(0);
    const env = await s.c([...files, "exec", "-T", "web", "sh", "-c", 'echo "$FILE_VAR|$FROM|$KEEP"']);
    expect(env.stdout).toBe("from the env file|override|base\n");
    expect(await inspect(`${s.name}-web-1`, '{{index .Config.Labels "com.docker.compose.project.config_files"}}')).toBe(`${s.dir}/base.yaml,${s.dir}/override.yaml`);
    expect(await states(s.name)).toEqual([`${s.name}-sidecar-1 running`, `${s.name}-web-1 running`]);
  });
});
