// The stacks in compose-examples/, brought up and down for real by `berth
// compose`: each one's images built here from busybox, its health-gated
// start, what it does, an idempotent second `up`, and nothing left after `down`.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createServer } from "node:net";
import { berth, docker, importBusybox, leaks, makeRoot, removeRoot, REPO, type TestRoot } from "./helpers/berth.ts";

let t: TestRoot;
beforeAll(async () => {
  t = makeRoot();
  await importBusybox(t, "busybox:latest");
}, 120_000);
afterAll(() => removeRoot(t));

const example = (name: string) => `${REPO}/compose-examples/${name}/compose.yaml`;
const compose = (file: string, args: string[], env: Record<string, string> = {}) => berth(t, ["compose", "-f", file, ...args], { env });

/** A free TCP port on loopback (the kernel picks it). */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function volumes(): Promise<string[]> {
  return (await berth(t, ["volume", "ls", "-q"])).stdout.trim().split("\n").filter(Boolean);
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, tries = 200): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await Bun.sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("web-api-kv: a web front, an API and a key-value store, started in health order", () => {
  const file = example("web-api-kv");
  let env: Record<string, string>;
  beforeAll(async () => {
    env = { WEB_PORT: String(await freePort()), GREETING: "hi from the test" };
  });

  test("up -d --wait builds the images, starts kv, then api, then web, and the page shows the counter", async () => {
    const up = await compose(file, ["up", "-d", "--wait"], env);
    expect(up.stderr, up.stderr).toContain(" Network web-api-kv_default  Created");
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toContain(" Volume web-api-kv_kv-data  Created");
    for (const c of ["web-api-kv-kv-1", "web-api-kv-api-1", "web-api-kv-web-1"]) expect(up.stderr).toContain(` Container ${c}  Started`);
    // The dependants waited for health: api started after kv was healthy, web after api was.
    const lines = up.stderr.split("\n");
    const at = (s: string) => lines.findIndex((l) => l.includes(s));
    expect(at("web-api-kv-kv-1  Healthy")).toBeGreaterThan(at("web-api-kv-kv-1  Started"));
    expect(at("web-api-kv-api-1  Starting")).toBeGreaterThan(at("web-api-kv-kv-1  Healthy"));
    expect(at("web-api-kv-web-1  Starting")).toBeGreaterThan(at("web-api-kv-api-1  Healthy"));

    const page1 = await (await fetch(`http://127.0.0.1:${env.WEB_PORT}/`)).text();
    expect(page1).toContain("<h1>berth demo</h1>");
    expect(page1).toContain('"greeting":"hi from the test","visits":1');
    const page2 = await (await fetch(`http://127.0.0.1:${env.WEB_PORT}/`)).text();
    expect(page2).toContain('"visits":2');
  }, 120_000);

  test("the containers carry Docker Compose's labels, and the docker CLI sees them", async () => {
    const ps = await docker(t, ["ps", "--filter", "label=com.docker.compose.project=web-api-kv", "--format", '{{.Names}} {{.Label "com.docker.compose.service"}} {{.Label "com.docker.compose.container-number"}} {{.Label "com.docker.compose.oneoff"}}']);
    expect(ps.stdout.trim().split("\n").sort()).toEqual(["web-api-kv-api-1 api 1 False", "web-api-kv-kv-1 kv 1 False", "web-api-kv-web-1 web 1 False"]);
    const hash = await docker(t, ["inspect", "-f", '{{index .Config.Labels "com.docker.compose.config-hash"}}', "web-api-kv-api-1"]);
    expect(hash.stdout.trim()).toMatch(/^[0-9a-f]{64}$/);
  });

  test("ps and ls show the stack", async () => {
    const ps = await compose(file, ["ps"], env);
    expect(ps.stdout.split("\n")[0]).toMatch(/^NAME\s+IMAGE\s+COMMAND\s+SERVICE\s+CREATED\s+STATUS\s+PORTS$/);
    expect(ps.stdout).toMatch(/web-api-kv-web-1\s+web-api-kv-web\s+"httpd -f -p 80 -h \/…"\s+web\s+.*Up .*127\.0\.0\.1:\d+->80\/tcp/);
    expect(ps.stdout).toMatch(/web-api-kv-kv-1 .*\(healthy\)/);
    const ls = await berth(t, ["compose", "ls"]);
    expect(ls.stdout).toMatch(new RegExp(`web-api-kv\\s+running\\(3\\)\\s+${file.replace(/[/.]/g, "\\$&")}`));
  });

  test("a second up changes nothing: every container is kept running", async () => {
    const before = (await docker(t, ["ps", "-q", "--no-trunc", "--filter", "label=com.docker.compose.project=web-api-kv"])).stdout.trim().split("\n").sort();
    const again = await compose(file, ["up", "-d"], env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).not.toMatch(/Creat|Recreat|Starting|Stopping/);
    expect(again.stderr.match(/ Running/g)?.length).toBe(3);
    const after = (await docker(t, ["ps", "-q", "--no-trunc", "--filter", "label=com.docker.compose.project=web-api-kv"])).stdout.trim().split("\n").sort();
    expect(after).toEqual(before);
  });

  test("a changed variable recreates the API and its dependant, not the store; the counter survives on its volume", async () => {
    const kvBefore = (await docker(t, ["inspect", "-f", "{{.Id}}", "web-api-kv-kv-1"])).stdout.trim();
    const up = await compose(file, ["up", "-d", "--wait"], { ...env, GREETING: "changed" });
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toContain(" Container web-api-kv-api-1  Recreate");
    expect(up.stderr).toContain(" Container web-api-kv-web-1  Recreate");
    expect(up.stderr).not.toContain("web-api-kv-kv-1  Recreate");
    expect((await docker(t, ["inspect", "-f", "{{.Id}}", "web-api-kv-kv-1"])).stdout.trim()).toBe(kvBefore);
    const page = await (await fetch(`http://127.0.0.1:${env.WEB_PORT}/`)).text();
    expect(page).toContain('"greeting":"changed","visits":3');
  }, 120_000);

  test("the daemon keeps the stack converged: a killed store is restarted by its policy", async () => {
    const pid = Number((await berth(t, ["inspect", "-f", "{{.State.Pid}}", "web-api-kv-kv-1"])).stdout.trim());
    process.kill(pid, "SIGKILL");
    await waitFor("kv to come back", async () => {
      const r = await berth(t, ["inspect", "-f", "{{.RestartCount}} {{.State.Running}}", "web-api-kv-kv-1"]);
      return r.stdout.trim() === "1 true" ? true : undefined;
    });
    const page = await waitFor("the page", async () => {
      const text = await fetch(`http://127.0.0.1:${env.WEB_PORT}/`).then((r) => r.text(), () => "");
      return text.includes('"visits":4') ? text : undefined;
    });
    expect(page).toContain('"visits":4');
  }, 60_000);

  test("down removes containers and the network but keeps the volume; down -v removes it too; nothing leaks", async () => {
    const down = await compose(file, ["down"], env);
    expect(down.code, down.stderr).toBe(0);
    for (const c of ["web-api-kv-kv-1", "web-api-kv-api-1", "web-api-kv-web-1"]) expect(down.stderr).toContain(` Container ${c}  Removed`);
    expect(down.stderr).toContain(" Network web-api-kv_default  Removed");
    // Dependants go first: web before api before kv.
    expect(down.stderr.indexOf("web-api-kv-web-1  Removed")).toBeLessThan(down.stderr.indexOf("web-api-kv-api-1  Stopping"));
    expect(down.stderr.indexOf("web-api-kv-api-1  Removed")).toBeLessThan(down.stderr.indexOf("web-api-kv-kv-1  Stopping"));
    expect(await volumes()).toContain("web-api-kv_kv-data");
    expect((await berth(t, ["ps", "-aq"])).stdout.trim()).toBe("");
    const downV = await compose(file, ["down", "-v"], env);
    expect(downV.code, downV.stderr).toBe(0);
    expect(await volumes()).not.toContain("web-api-kv_kv-data");
    expect(leaks(t)).toEqual([]);
  }, 60_000);
});

describe("workers: a producer gates a scaled pool of workers", () => {
  const file = example("workers");

  test("three workers drain the producer's queue together, each job done once", async () => {
    const up = await compose(file, ["up", "-d"], { JOBS: "30" });
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toContain(" Container workers-producer-1  Exited");
    for (const n of [1, 2, 3]) expect(up.stderr).toContain(` Container workers-worker-${n}  Started`);
    expect(up.stderr.indexOf("workers-worker-1  Starting")).toBeGreaterThan(up.stderr.indexOf("workers-producer-1  Exited"));
    const done = await waitFor("30 jobs done", async () => {
      const r = await compose(file, ["exec", "-T", "worker", "sh", "-c", "cat /queue/done/*"]);
      const lines = r.stdout.trim().split("\n").filter(Boolean);
      return lines.length === 30 ? lines : undefined;
    });
    const squares = done.map((l) => Number(l.split(" ")[0])).sort((a, b) => a - b);
    expect(squares).toEqual(Array.from({ length: 30 }, (_, i) => (i + 1) ** 2));
    const workers = new Set(done.map((l) => l.split(" ")[1]));
    expect(workers.size).toBeGreaterThanOrEqual(2);
  }, 120_000);

  test("the resource limits and reservations reach the cgroups", async () => {
    const r = await berth(t, ["inspect", "-f", "{{.HostConfig.NanoCpus}} {{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.MemoryReservation}}", "workers-worker-1"]);
    expect(r.stdout.trim()).toBe(`500000000 ${32 * 1024 * 1024} 64 ${16 * 1024 * 1024}`);
    const cg = await compose(file, ["exec", "-T", "worker", "sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max"]);
    expect(Number(cg.stdout.trim())).toBe(32 * 1024 * 1024);
  });

  test("--scale adds replicas with the next numbers and removes the highest ones", async () => {
    const up = await compose(file, ["up", "-d", "--scale", "worker=5"]);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toContain(" Container workers-worker-4  Started");
    expect(up.stderr).toContain(" Container workers-worker-5  Started");
    expect(up.stderr).not.toMatch(/workers-worker-[123]  (Recreate|Starting)/);
    const down = await compose(file, ["up", "-d", "--scale", "worker=2"]);
    expect(down.code, down.stderr).toBe(0);
    for (const n of [3, 4, 5]) expect(down.stderr).toContain(` Container workers-worker-${n}  Removed`);
    const ps = await compose(file, ["ps", "--services"]);
    expect(ps.stdout.trim()).toBe("worker");
    const names = (await compose(file, ["ps", "-q"])).stdout.trim().split("\n");
    expect(names.length).toBe(2);
  }, 60_000);

  test("down -v takes everything away", async () => {
    const down = await compose(file, ["down", "-v"]);
    expect(down.code, down.stderr).toBe(0);
    expect(down.stderr).toContain(" Container workers-producer-1  Removed");
    expect(await volumes()).not.toContain("workers_queue");
    expect(leaks(t)).toEqual([]);
  });
});

describe("secrets-volumes: secrets, configs, named volumes and two networks", () => {
  const file = example("secrets-volumes");
  const env = { API_TOKEN: "token-from-the-environment" };

  test("up --wait: the app logs in to the database with the secret, the client reaches the app", async () => {
    const up = await compose(file, ["up", "-d", "--wait"], env);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toContain(" Network secrets-volumes_front  Created");
    expect(up.stderr).toContain(" Network secrets-volumes_back  Created");
    const status = await compose(file, ["exec", "-T", "client", "wget", "-q", "-O", "-", "http://app.internal:8000/cgi-bin/status"]);
    expect(status.stdout).toContain("db: OK");
    expect(status.stdout).toContain(`token: ${env.API_TOKEN.length} bytes`);
    expect(status.stdout).toContain("greeting = hello from the app config");
  }, 120_000);

  test("secrets and configs are files with their target, owner and mode", async () => {
    const db = await compose(file, ["exec", "-T", "db", "stat", "-c", "%n %u %g %a", "/run/secrets/db_password", "/etc/db.conf"]);
    expect(db.stdout.trim().split("\n")).toEqual(["/run/secrets/db_password 100 101 400", "/etc/db.conf 0 0 444"]);
    const content = await compose(file, ["exec", "-T", "db", "cat", "/run/secrets/db_password", "/etc/db.conf"]);
    expect(content.stdout).toBe("s3cret-db-password\n# The database's configuration: a file config.\nport = 5432\nmax_connections = 10\n");
    const token = await compose(file, ["exec", "-T", "app", "cat", "/run/secrets/api_token"]);
    expect(token.stdout).toBe(env.API_TOKEN);
  });

  test("the networks separate: the client cannot resolve or reach the database", async () => {
    const r = await compose(file, ["exec", "-T", "client", "sh", "-c", "nslookup db 2>&1; echo PING | nc -w 1 db 5432; echo rc=$?"]);
    expect(r.stdout).not.toContain("PONG");
    expect(r.stdout).toMatch(/rc=[1-9]/);
    const app = await compose(file, ["exec", "-T", "app", "sh", "-c", "echo PING | nc -w 1 db 5432"]);
    expect(app.stdout.trim()).toBe("PONG");
  });

  test("read_only, tmpfs, a read-only bind, cap_drop and ulimits apply", async () => {
    const r = await compose(file, ["exec", "-T", "app", "sh", "-c", "touch /x 2>&1; touch /tmp/ok && echo tmp-ok; cat /www/static/hello.txt; touch /www/static/y 2>&1; ulimit -n; grep CapEff /proc/self/status"]);
    expect(r.stdout).toContain("Read-only file system");
    expect(r.stdout).toContain("tmp-ok");
    expect(r.stdout).toContain("a static file, bind-mounted read-only");
    expect(r.stdout).toContain("1024");
    expect(r.stdout).toContain("CapEff:\t00000000a80405fb"); // Docker's default set without NET_RAW (bit 13)
  });

  test("down -v removes both networks and both volumes; nothing leaks", async () => {
    const down = await compose(file, ["down", "-v"], env);
    expect(down.code, down.stderr).toBe(0);
    const left = await volumes();
    expect(left.filter((v) => v.startsWith("secrets-volumes_"))).toEqual([]);
    const nets = (await berth(t, ["network", "ls", "--format", "{{.Name}}"])).stdout;
    expect(nets).not.toContain("secrets-volumes_");
    expect(leaks(t)).toEqual([]);
  });
});
