// Debian's docker-compose 1.29 (python, docker-py 5.0.3) against berthd: a
// stack of a busybox httpd with a published port, a named volume, an
// environment and a healthcheck, and a client that waits for it to be
// healthy and reaches it by its service name over the project network. Up,
// ps, logs, exec and run (through docker-py, and through the docker CLI as
// compose does by default), scale, an idempotent second up, stop, start,
// restart, and down -v, which leaves nothing behind. All traffic stays on
// loopback and on the networks these tests create.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { mkdirSync, writeFileSync } from "node:fs";
import { daemonPid, docker, importBusybox, leaks, makeRoot, removeRoot, type Result, type TestRoot } from "./helpers/berth.ts";

const COMPOSE = "/usr/bin/docker-compose";
const P = "berthdc";

const STACK = `
services:
  web:
    image: busybox:compose
    pull_policy: never
    command: ["sh", "-c", "mkdir -p /www && echo hello-from-web > /www/index.html && echo \\"$$GREETING\\" > /data/greeting && exec httpd -f -p 8080 -h /www"]
    environment:
      GREETING: hi-there
    ports: ["127.0.0.1::8080"]
    volumes: ["data:/data"]
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD", "wget", "-qO-", "http://127.0.0.1:8080/"]
      interval: 1s
      timeout: 3s
      retries: 20
  worker:
    image: busybox:compose
    pull_policy: never
    command: ["sh", "-c", "while true; do wget -qO- http://web:8080/; sleep 1; done"]
    stop_grace_period: 1s
    depends_on:
      web:
        condition: service_healthy
volumes:
  data: {}
`;

/** The same web with a client that knows it only by a `links:` alias. */
const LINKED = `
services:
  web:
    image: busybox:compose
    command: ["httpd", "-f", "-p", "8080", "-h", "/etc"]
    stop_grace_period: 1s
  once:
    image: busybox:compose
    command: ["sh", "-c", "i=0; until wget -qO- http://www:8080/hostname; do i=$$((i+1)); [ $$i -gt 25 ] && exit 9; sleep 0.2; done; exit 7"]
    links: ["web:www"]
`;

let t: TestRoot;
let dir: string;

beforeAll(async () => {
  t = makeRoot();
  await importBusybox(t, "busybox:compose");
  dir = `${t.root}/project`;
  mkdirSync(dir);
  writeFileSync(`${dir}/docker-compose.yml`, STACK);
  writeFileSync(`${dir}/linked.yml`, LINKED);
}, 120_000);
afterAll(() => removeRoot(t));

async function run(cmd: string[], env: Record<string, string> = {}, stdin?: string): Promise<Result> {
  const proc = Bun.spawn(cmd, {
    cwd: dir,
    stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin),
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: `${t.root}`, DOCKER_HOST: t.dockerHost, DOCKER_CLI_HINTS: "false", ...env },
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

/** docker-compose -p berthdc <args>; `viaApi`: exec and run through docker-py rather than the docker CLI. */
const dc = (args: string[], opts: { file?: string; viaApi?: boolean; stdin?: string } = {}) =>
  run([COMPOSE, "-p", P, "-f", opts.file ?? "docker-compose.yml", ...args], opts.viaApi ? { COMPOSE_INTERACTIVE_NO_CLI: "1" } : {}, opts.stdin);

async function ok(args: string[], opts?: { file?: string; viaApi?: boolean }): Promise<Result> {
  const r = await dc(args, opts);
  if (r.code !== 0) throw new Error(`docker-compose ${args.join(" ")} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r;
}

async function dockerOk(args: string[]): Promise<string> {
  const r = await docker(t, args);
  if (r.code !== 0) throw new Error(`docker ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** The project's containers as "name service number state", sorted, from the stock docker CLI. */
async function projectContainers(all = true): Promise<string[]> {
  const out = await dockerOk([
    "ps", ...(all ? ["-a"] : []), "--filter", `label=com.docker.compose.project=${P}`,
    "--format", '{{.Names}} {{.Label "com.docker.compose.service"}} {{.Label "com.docker.compose.container-number"}} {{.State}}',
  ]);
  return out.trim().split("\n").filter(Boolean).sort();
}

const ids = async () => (await dockerOk(["ps", "-aq", "--no-trunc", "--filter", `label=com.docker.compose.project=${P}`])).trim().split("\n").filter(Boolean).sort();

async function get(url: string): Promise<string> {
  try {
    return await (await fetch(url, { signal: AbortSignal.timeout(3000) })).text();
  } catch (err) {
    return `(no answer: ${(err as Error).message})`;
  }
}

/** The host address docker-compose port gives for web's 8080. */
async function webAddress(): Promise<string> {
  const addr = (await ok(["port", "web", "8080"])).stdout.trim();
  expect(addr).toMatch(/^127\.0\.0\.1:\d+$/);
  return addr;
}

async function until(what: string, check: () => Promise<boolean>, ms = 15_000) {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await Bun.sleep(100);
  }
}

describe("docker-compose 1.29 against berthd", () => {
  let firstIds: string[] = [];
  let daemon: number | undefined;

  test("config is read client side; up -d creates the network, the volume and both containers with compose's labels", async () => {
    expect((await ok(["config", "--services"])).stdout.trim().split("\n").sort()).toEqual(["web", "worker"]);
    daemon = daemonPid(t);
    const up = await ok(["up", "-d"]);
    expect(up.stderr).toContain(`Creating network "${P}_default" with the default driver`);
    expect(up.stderr).toContain(`Creating volume "${P}_data" with default driver`);
    expect(up.stderr).toMatch(new RegExp(`Creating ${P}_web_1 \\.\\.\\. done`));
    expect(up.stderr).toMatch(new RegExp(`Creating ${P}_worker_1 \\.\\.\\. done`));
    expect(await projectContainers()).toEqual([`${P}_web_1 web 1 running`, `${P}_worker_1 worker 1 running`]);
    expect((await dockerOk(["network", "ls", "--filter", `label=com.docker.compose.project=${P}`, "--format", "{{.Name}} {{.Driver}}"])).trim()).toBe(`${P}_default bridge`);
    expect((await dockerOk(["volume", "ls", "--filter", `label=com.docker.compose.project=${P}`, "--format", "{{.Name}}"])).trim()).toBe(`${P}_data`);
    // Both on the project network, web under its service name.
    const aliases = (await dockerOk(["inspect", "-f", `{{json (index .NetworkSettings.Networks "${P}_default").Aliases}}`, `${P}_web_1`])).trim();
    expect(JSON.parse(aliases)).toContain("web");
    firstIds = await ids();
    expect(firstIds).toHaveLength(2);
  }, 120_000);

  test("depends_on service_healthy: the worker started only once web's healthcheck had passed", async () => {
    const health = JSON.parse(await dockerOk(["inspect", "-f", "{{json .State.Health}}", `${P}_web_1`])) as { Status: string; Log: { ExitCode: number; End: string }[] };
    expect(health.Status).toBe("healthy");
    const firstPass = health.Log.find((l) => l.ExitCode === 0);
    expect(firstPass).toBeDefined();
    const workerStarted = (await dockerOk(["inspect", "-f", "{{.State.StartedAt}}", `${P}_worker_1`])).trim();
    expect(Date.parse(workerStarted)).toBeGreaterThanOrEqual(Date.parse(firstPass!.End));
  });

  test("the worker reaches web by its service name; the published port answers on 127.0.0.1; ps lists both Up", async () => {
    await until("the worker has fetched the page", async () => (await ok(["logs", "--no-color", "worker"])).stdout.includes("hello-from-web"));
    expect((await ok(["logs", "--no-color", "worker"])).stdout).toMatch(/^worker_1\s+\| hello-from-web$/m);
    expect(await get(`http://${await webAddress()}/`)).toBe("hello-from-web\n");
    const ps = (await ok(["ps"])).stdout.split("\n").filter((l) => l.startsWith(`${P}_`));
    expect(ps).toHaveLength(2);
    expect(ps[0]).toMatch(new RegExp(`^${P}_web_1 .* Up \\(healthy\\) +127\\.0\\.0\\.1:\\d+->8080/tcp`));
    expect(ps[1]).toMatch(new RegExp(`^${P}_worker_1 .* Up `));
  });

  test("exec and run --rm, through the docker CLI and through docker-py: environment, named volume, exit codes, stdin", async () => {
    for (const viaApi of [false, true]) {
      const env = await dc(["exec", "-T", "web", "sh", "-c", "cat /data/greeting; sleep 0.1; echo to-stderr >&2; exit 4"], { viaApi });
      // dockerpty (compose's exec through docker-py) writes both streams to its stdout, demultiplexed.
      expect([env.code, env.stdout], `viaApi=${viaApi}: ${env.stderr}`).toEqual([4, viaApi ? "hi-there\nto-stderr\n" : "hi-there\n"]);
      if (!viaApi) expect(env.stderr).toContain("to-stderr");
      // docker-py's path (dockerpty) opens its attach sockets lazily, after the start (a Python 3 `map`):
      // output made in the first moments is lost with Docker too. The command waits a little first.
      const one = await dc(["run", "--rm", "-T", "worker", "sh", "-c", "sleep 0.5; wget -qO- http://web:8080/; cat /etc/hostname >/dev/null; exit 3"], { viaApi });
      expect([one.code, one.stdout], `viaApi=${viaApi}: ${one.stderr}`).toEqual([3, "hello-from-web\n"]);
    }
    // The docker CLI path forwards stdin (docker-py's only does with a tty, as with Docker).
    const piped = await dc(["exec", "-T", "web", "cat"], { stdin: "through-stdin\n" });
    expect([piped.code, piped.stdout]).toEqual([0, "through-stdin\n"]);
    // run --rm's one-off containers are gone.
    expect((await dockerOk(["ps", "-aq", "--filter", "label=com.docker.compose.oneoff=True"])).trim()).toBe("");
    expect(await ids()).toEqual(firstIds);
  }, 120_000);

  test("up -d --scale worker=3 adds two workers; a second up reports every container up-to-date and recreates nothing", async () => {
    const up = await ok(["up", "-d", "--scale", "worker=3"]);
    expect(up.stderr).toContain(`${P}_web_1 is up-to-date`);
    expect(up.stderr).toMatch(new RegExp(`Creating ${P}_worker_2 \\.\\.\\. done`));
    expect(up.stderr).toMatch(new RegExp(`Creating ${P}_worker_3 \\.\\.\\. done`));
    expect(await projectContainers()).toEqual([
      `${P}_web_1 web 1 running`, `${P}_worker_1 worker 1 running`, `${P}_worker_2 worker 2 running`, `${P}_worker_3 worker 3 running`,
    ]);
    await until("every worker has fetched the page", async () => {
      const logs = (await ok(["logs", "--no-color", "worker"])).stdout;
      return [1, 2, 3].every((n) => new RegExp(`^worker_${n}\\s+\\| hello-from-web$`, "m").test(logs));
    });
    const scaled = await ids();
    const again = await ok(["up", "-d", "--scale", "worker=3"]);
    for (const name of ["web_1", "worker_1", "worker_2", "worker_3"]) expect(again.stderr).toContain(`${P}_${name} is up-to-date`);
    expect(again.stderr).not.toMatch(/Creating|Recreating|Starting/);
    expect(await ids()).toEqual(scaled);
    // And back down to one.
    const down = await ok(["up", "-d", "--scale", "worker=1"]);
    expect(down.stderr).toMatch(/Stopping and removing berthdc_worker_[23] \.\.\. done[\s\S]*Stopping and removing berthdc_worker_[23] \.\.\. done/);
    expect(await ids()).toEqual(firstIds);
  }, 120_000);

  test("stop, start and restart; the daemon lives through a restart of a container looping on DNS", async () => {
    await ok(["stop"]);
    expect(await projectContainers()).toEqual([`${P}_web_1 web 1 exited`, `${P}_worker_1 worker 1 exited`]);
    expect((await ok(["ps"])).stdout).toMatch(new RegExp(`^${P}_web_1 .* Exit \\d+`, "m"));
    await ok(["start"]);
    expect(await projectContainers()).toEqual([`${P}_web_1 web 1 running`, `${P}_worker_1 worker 1 running`]);
    for (let i = 0; i < 3; i++) await ok(["restart", "worker"]);
    await ok(["restart", "web"]);
    expect(await projectContainers()).toEqual([`${P}_web_1 web 1 running`, `${P}_worker_1 worker 1 running`]);
    await until("web answers on its published port again", async () => (await get(`http://${await webAddress()}/`)) === "hello-from-web\n");
    expect(daemonPid(t)).toBe(daemon);
    expect((await docker(t, ["version", "--format", "{{.Server.APIVersion}}"])).stdout.trim()).toBe("1.43");
    expect(await ids()).toEqual(firstIds);
  }, 120_000);

  test("down -v removes the containers, the network and the volume, and leaves nothing on the host", async () => {
    const down = await ok(["down", "-v"]);
    expect(down.stderr).toContain(`Removing network ${P}_default`);
    expect(down.stderr).toContain(`Removing volume ${P}_data`);
    expect(await projectContainers()).toEqual([]);
    expect((await dockerOk(["network", "ls", "--format", "{{.Name}}"])).trim().split("\n").sort()).toEqual(["bridge", "host", "none"]);
    expect((await dockerOk(["volume", "ls", "-q"])).trim()).toBe("");
    expect(leaks(t)).toEqual([]);
  }, 120_000);

  test("links: an alias of the linking service's; up --exit-code-from attaches and gives the client's exit code", async () => {
    const up = await dc(["up", "--no-color", "--exit-code-from", "once"], { file: "linked.yml" });
    expect(up.code, up.stderr).toBe(7);
    const web = (await dockerOk(["inspect", "-f", "{{.Config.Hostname}}", `${P}_web_1`])).trim();
    expect(up.stdout).toMatch(new RegExp(`^once_1\\s+\\| ${web}$`, "m"));
    const links = JSON.parse((await dockerOk(["inspect", "-f", `{{json (index .NetworkSettings.Networks "${P}_default").Links}}`, `${P}_once_1`])).trim()) as string[];
    expect([...links].sort()).toEqual([`${P}_web_1:${P}_web_1`, `${P}_web_1:web_1`, `${P}_web_1:www`]);
    // The links are the linking container's: web's endpoint has none.
    expect((await dockerOk(["inspect", "-f", `{{json (index .NetworkSettings.Networks "${P}_default").Links}}`, `${P}_web_1`])).trim()).toBe("null");
    await ok(["down"], { file: "linked.yml" });
    expect(await projectContainers()).toEqual([]);
    expect(leaks(t)).toEqual([]);
  }, 120_000);
});
