// The reconciler's plan for every kind of change, without a daemon: the
// model and the observed containers in, the actions out.
import { describe, expect, test } from "vitest";
import type { Project, Service } from "../core/compose/model.ts";
import { dependenciesOf, dependencyOrder, planChanges, planUp, targetServices, withRestartDependants, type Observed, type UpOptions } from "../core/compose/plan.ts";
import { serviceSpec, stableJSON } from "../core/compose/spec.ts";

function service(name: string, extra: Partial<Service> = {}): Service {
  return {
    name, image: "busybox", environment: {}, ports: [], expose: [], networks: { default: {} }, volumes: [], tmpfs: {}, secrets: [], configs: [],
    depends_on: {}, replicas: 1, labels: {}, cap_add: [], cap_drop: [], ulimits: {}, extra_hosts: [], dns: [], dns_search: [], dns_opt: [], profiles: [],
    ...extra,
  };
}

function project(services: Service[], disabled: Project["disabled"] = {}): Project {
  return {
    name: "demo", workingDir: "/srv", files: ["/srv/compose.yaml"],
    services: Object.fromEntries(services.map((s) => [s.name, s])),
    networks: { default: { name: "demo_default", external: false, driver_opts: {}, labels: {} } },
    volumes: {}, secrets: {}, configs: {}, disabled, positionOf: () => undefined,
  };
}

let ids = 0;
function running(svc: string, number: number, hash: string, state: Observed["state"] = "running"): Observed {
  return { id: `id${++ids}`, name: `demo-${svc}-${number}`, service: svc, number, hash, oneoff: false, state, labels: {} };
}

const kinds = (p: ReturnType<typeof planUp>, svc: string) => p.services.find((s) => s.service === svc)!.actions.map((a) => (a.kind === "create" ? `create ${a.number}` : `${a.kind} ${a.container.number}`));
const plan = (proj: Project, observed: Observed[], hashes: Record<string, string>, opts?: UpOptions) => planUp(proj, observed, hashes, opts);

describe("planUp", () => {
  const web = service("web", { depends_on: { db: { condition: "service_started", restart: false, required: true } } });
  const db = service("db");
  const p = project([web, db]);
  const hashes = { web: "h-web", db: "h-db" };

  test("an empty project creates every replica, dependencies first", () => {
    const out = plan(p, [], hashes);
    expect(out.services.map((s) => s.service)).toEqual(["db", "web"]);
    expect(kinds(out, "db")).toEqual(["create 1"]);
    expect(kinds(out, "web")).toEqual(["create 1"]);
    expect(planChanges(out, false)).toBe(true);
  });

  test("an up-to-date running stack is kept as it is: nothing changes", () => {
    const out = plan(p, [running("web", 1, "h-web"), running("db", 1, "h-db")], hashes);
    expect(kinds(out, "web")).toEqual(["keep 1"]);
    expect(kinds(out, "db")).toEqual(["keep 1"]);
    expect(planChanges(out, false)).toBe(false);
  });

  test("a stopped container with the same configuration is started, not recreated", () => {
    const out = plan(p, [running("web", 1, "h-web", "exited"), running("db", 1, "h-db", "created")], hashes);
    expect(kinds(out, "web")).toEqual(["start 1"]);
    expect(kinds(out, "db")).toEqual(["start 1"]);
  });

  test("a changed configuration hash recreates the container, and its dependants", () => {
    const out = plan(p, [running("web", 1, "h-web"), running("db", 1, "old")], hashes);
    const dbAction = out.services.find((s) => s.service === "db")!.actions[0]!;
    expect(dbAction).toMatchObject({ kind: "recreate", reason: "configuration changed" });
    expect(out.services.find((s) => s.service === "web")!.actions[0]).toMatchObject({ kind: "recreate", reason: "dependency db was recreated" });
  });

  test("a dependant's change leaves its dependency alone", () => {
    const out = plan(p, [running("web", 1, "old"), running("db", 1, "h-db")], hashes);
    expect(kinds(out, "db")).toEqual(["keep 1"]);
    expect(kinds(out, "web")).toEqual(["recreate 1"]);
  });

  test("--force-recreate recreates everything; --no-recreate nothing; both at once is refused", () => {
    const observed = [running("web", 1, "old"), running("db", 1, "h-db")];
    const forced = plan(p, observed, hashes, { forceRecreate: true });
    expect(kinds(forced, "db")).toEqual(["recreate 1"]);
    expect(kinds(forced, "web")).toEqual(["recreate 1"]);
    const kept = plan(p, observed, hashes, { noRecreate: true });
    expect(kinds(kept, "web")).toEqual(["keep 1"]);
    expect(() => plan(p, observed, hashes, { noRecreate: true, forceRecreate: true })).toThrow(/incompatible/);
  });

  test("scaling up adds the lowest free numbers; scaling down removes the highest", () => {
    const workers = project([service("worker", { replicas: 2 })]);
    const have = [running("worker", 1, "h"), running("worker", 3, "h")];
    expect(kinds(plan(workers, have, { worker: "h" }, { scale: { worker: 4 } }), "worker")).toEqual(["keep 1", "keep 3", "create 2", "create 4"]);
    const five = [1, 2, 3, 4, 5].map((n) => running("worker", n, "h"));
    expect(kinds(plan(workers, five, { worker: "h" }), "worker")).toEqual(["remove 5", "remove 4", "remove 3", "keep 1", "keep 2"]);
    expect(kinds(plan(workers, five, { worker: "h" }, { scale: { worker: 0 } }), "worker")).toEqual(["remove 5", "remove 4", "remove 3", "remove 2", "remove 1"]);
    expect(() => plan(workers, [], { worker: "h" }, { scale: { nope: 1 } })).toThrow(/no such service: nope/);
  });

  test("orphans: containers of services the model no longer has (not one-offs, not disabled profiles)", () => {
    const orphan = running("old", 1, "x");
    const oneoff = { ...running("gone", 1, "x"), oneoff: true };
    const profiled = running("debug", 1, "x");
    const out = plan(project([web, db], { debug: { profiles: ["dbg"] } }), [orphan, oneoff, profiled, running("web", 1, "h-web"), running("db", 1, "h-db")], hashes);
    expect(out.orphans.map((c) => c.name)).toEqual(["demo-old-1"]);
    expect(planChanges(out, false)).toBe(false);
    expect(planChanges(out, true)).toBe(true);
  });

  test("named services bring their dependencies unless --no-deps", () => {
    expect([...targetServices(p, ["web"])].sort()).toEqual(["db", "web"]);
    expect([...targetServices(p, ["web"], true)]).toEqual(["web"]);
    const out = plan(p, [], hashes, { services: ["db"] });
    expect(out.services.map((s) => s.service)).toEqual(["db"]);
  });

  test("an unknown service is an error naming it; a disabled one names its profile", () => {
    const q = project([web, db], { debug: { profiles: ["dbg"] } });
    expect(() => targetServices(q, ["nope"])).toThrow(/no such service: nope/);
    try {
      targetServices(q, ["debug"]);
      expect.unreachable();
    } catch (err) {
      expect((err as { hint?: string }).hint).toMatch(/--profile dbg/);
    }
  });

  test("a dependency cycle is refused with its path", () => {
    const a = service("a", { depends_on: { b: { condition: "service_started", restart: false, required: true } } });
    const b = service("b", { depends_on: { a: { condition: "service_started", restart: false, required: true } } });
    expect(() => dependencyOrder(project([a, b]))).toThrow(/dependency cycle detected: a -> b -> a/);
  });

  test("restart: true carries a restart to the dependants, transitively; restart: false does not", () => {
    const dep = (restart: boolean) => ({ condition: "service_started" as const, restart, required: true });
    const q = project([
      service("db"),
      service("api", { depends_on: { db: dep(true) } }),
      service("web", { depends_on: { api: dep(true) } }),
      service("cron", { depends_on: { db: dep(false) } }),
    ]);
    expect(withRestartDependants(q, ["db"]).sort()).toEqual(["api", "db", "web"]);
    expect(withRestartDependants(q, ["api"]).sort()).toEqual(["api", "web"]);
    expect(withRestartDependants(q, ["cron"])).toEqual(["cron"]);
  });

  test("dependenciesOf: depends_on in the model (not optional missing ones) and the network_mode service", () => {
    const q = project([
      service("main"),
      service("side", { network_mode: "service:main", networks: {}, depends_on: { gone: { condition: "service_started", restart: false, required: false } } }),
    ]);
    expect(dependenciesOf(q, "side")).toEqual(["main"]);
    expect(dependenciesOf(q, "main")).toEqual([]);
  });

  test("network_mode service:x orders x first", () => {
    const side = service("side", { network_mode: "service:main", networks: {} });
    expect(dependencyOrder(project([side, service("main")]))).toEqual(["main", "side"]);
  });
});

describe("serviceSpec", () => {
  const io = { readFile: () => new TextEncoder().encode("s3cret"), env: { FROM_SHELL: "shell" } as Record<string, string | undefined> };
  const base = project([]);
  base.volumes = { data: { name: "demo_data", external: false, driver_opts: {}, labels: {} } };
  base.networks.back = { name: "demo_back", external: false, driver_opts: {}, labels: {} };
  base.secrets = { token: { name: "token", external: false, file: "/srv/token.txt" } };

  test("the create request carries the service's settings in Docker's terms", () => {
    const s = service("api", {
      command: ["httpd", "-f"],
      environment: { A: "1", FROM_SHELL: null, UNSET: null },
      ports: [{ target: 80, published: "8080", host_ip: "127.0.0.1", protocol: "tcp", mode: "ingress" }],
      networks: { default: { aliases: ["api.local"] }, back: { ipv4_address: "10.5.0.9" } },
      volumes: [{ type: "volume", source: "data", target: "/data" }, { type: "bind", source: "/srv/conf", target: "/conf", read_only: true }, { type: "tmpfs", target: "/scratch", tmpfs: { size: 1048576 } }],
      secrets: [{ source: "token", target: "/run/secrets/token", uid: "100", mode: 0o400 }],
      deploy: { resources: { limits: { cpus: 0.5, memory: 64 * 1024 * 1024, pids: 50 }, reservations: { memory: 32 * 1024 * 1024, cpus: 0.25 } } },
      restart: "on-failure:3",
      stop_grace_period: 3_000_000_000,
      init: true,
    });
    const spec = serviceSpec(base, s, "sha256:img", io);
    const r = spec.request;
    expect(r.Cmd).toEqual(["httpd", "-f"]);
    expect(r.Env).toEqual(["A=1", "FROM_SHELL=shell"]);
    expect(r.ExposedPorts).toEqual({ "80/tcp": {} });
    expect(r.StopTimeout).toBe(3);
    const h = r.HostConfig!;
    expect(h.PortBindings).toEqual({ "80/tcp": [{ HostIp: "127.0.0.1", HostPort: "8080" }] });
    expect(h.NetworkMode).toBe("demo_back");
    expect(r.NetworkingConfig?.EndpointsConfig).toEqual({ demo_back: { Aliases: ["api"], IPAMConfig: { IPv4Address: "10.5.0.9" } } });
    expect(spec.moreNetworks).toEqual({ demo_default: { Aliases: ["api", "api.local"], IPAMConfig: undefined } });
    expect(h.Mounts).toEqual([
      { Type: "volume", Source: "demo_data", Target: "/data", ReadOnly: undefined, VolumeOptions: undefined },
      { Type: "bind", Source: "/srv/conf", Target: "/conf", ReadOnly: true, VolumeOptions: undefined },
    ]);
    expect(h.Tmpfs).toEqual({ "/scratch": "size=1048576" });
    expect(h).toMatchObject({ NanoCpus: 500_000_000, Memory: 64 * 1024 * 1024, PidsLimit: 50, MemoryReservation: 32 * 1024 * 1024, CpuShares: 256, RestartPolicy: { Name: "on-failure", MaximumRetryCount: 3 }, Init: true });
    expect(spec.files).toEqual([{ target: "/run/secrets/token", content: new TextEncoder().encode("s3cret"), uid: 100, gid: 0, mode: 0o400 }]);
  });

  test("the hash changes with the configuration, the image and a secret's content, and only with them", () => {
    const s = service("api", { secrets: [{ source: "token", target: "/run/secrets/token" }] });
    const h = serviceSpec(base, s, "sha256:a", io).hash;
    expect(serviceSpec(base, { ...s }, "sha256:a", io).hash).toBe(h);
    expect(serviceSpec(base, { ...s, replicas: 5 }, "sha256:a", io).hash).toBe(h);
    expect(serviceSpec(base, { ...s, environment: { X: "1" } }, "sha256:a", io).hash).not.toBe(h);
    expect(serviceSpec(base, s, "sha256:b", io).hash).not.toBe(h);
    expect(serviceSpec(base, s, "sha256:a", { ...io, readFile: () => new TextEncoder().encode("other") }).hash).not.toBe(h);
  });

  test("stableJSON sorts keys and drops undefined, so equal values hash equally", () => {
    expect(stableJSON({ b: 1, a: [2, { d: undefined, c: null }] })).toBe('{"a":[2,{"c":null}],"b":1}');
  });
});
