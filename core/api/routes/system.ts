// /_ping, /version, /info, /events, /system/df, and the prunes
// `docker system prune` calls that berth has nothing for yet.
import { currentOwner, requester, runAs, visible, type Owner } from "../../owner.ts";
import { cpus, hostname, totalmem } from "node:os";
import { readFileSync } from "node:fs";
import pkg from "../../../package.json" with { type: "json" };
import { describeRanges, type Remap } from "../../userns/remap.ts";
import { matchEvent, type DockerEvent } from "../../engine/events.ts";
import { PREDEFINED } from "../../engine/networks.ts";
import { dirSize, volumeUsers } from "../../engine/volumes.ts";
import { API_VERSION, json, MIN_API_VERSION, type Ctx, type Router } from "../server.ts";
import { containerSummary, imageSummary, volumeJSON } from "../shapes.ts";
import { parseTime } from "./containers.ts";
import type { Engine } from "../../engine/engine.ts";
import { parseFilters } from "./util.ts";

export function systemRoutes(r: Router) {
  const ping = (ctx: Ctx) => {
    ctx.res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-cache, no-store, must-revalidate", Pragma: "no-cache" });
    ctx.res.end(ctx.req.method === "HEAD" ? undefined : "OK");
  };
  r.on("GET", "/_ping", ping);
  r.on("HEAD", "/_ping", ping);
  r.on("GET", "/version", (ctx) => json(ctx.res, 200, version(ctx)));
  r.on("GET", "/info", info);
  r.on("GET", "/events", events);
  r.on("POST", "/auth", async (ctx) => {
    // docker login: the credentials are checked against the registry; the client keeps them.
    const body = await ctx.body<{ username?: string; password?: string; serveraddress?: string; identitytoken?: string }>("auth");
    const { Registry } = await import("../../images/registry.ts");
    const server = (body.serveraddress || "docker.io").replace(/^https?:\/\//, "").replace(/\/.*$/, "");
    const domain = server === "index.docker.io" ? "docker.io" : server;
    await new Registry(domain, { ...ctx.engine.registryOptions(), credentials: () => body }).ping();
    json(ctx.res, 200, { Status: "Login Succeeded", IdentityToken: "" });
  });
  r.on("GET", "/system/df", df);
  // Nothing to prune: berth has no build cache before the builder lands.
  r.on("POST", "/build/prune", (ctx) => json(ctx.res, 200, { CachesDeleted: [], SpaceReclaimed: 0 }));
}

function version(ctx: Ctx) {
  const kernel = ctx.engine.host.kernel;
  return {
    Platform: { Name: "berth" },
    Components: [{ Name: "Engine", Version: pkg.version, Details: { ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, Bun: Bun.version, Os: "linux", Arch: "amd64", KernelVersion: kernel } }],
    Version: pkg.version,
    ApiVersion: API_VERSION,
    MinAPIVersion: MIN_API_VERSION,
    GitCommit: "",
    GoVersion: `bun ${Bun.version}`,
    Os: "linux",
    Arch: "amd64",
    KernelVersion: kernel,
    BuildTime: "",
  };
}

async function info(ctx: Ctx) {
  const e = ctx.engine;
  const list = e.list();
  const plugins = e.registry.status();
  const names = (kind: string) => plugins.filter((p) => p.kind === kind && p.available).map((p) => p.name);
  const cgroups = e.pluginName("limits") !== "none";
  json(ctx.res, 200, {
    ID: e.root,
    Containers: list.length,
    ContainersRunning: list.filter((c) => c.State.Running && !c.State.Paused).length,
    ContainersPaused: list.filter((c) => c.State.Paused).length,
    ContainersStopped: list.filter((c) => !c.State.Running).length,
    Images: e.db.listImages().length,
    Driver: e.pluginName("storage") ?? "",
    DriverStatus: driverStatus(e),
    Plugins: { Volume: names("volume"), Network: names("network"), Authorization: null, Log: ["json-file"] },
    // The `none` cgroup driver applies no limit (Docker on a host without cgroups says the same).
    MemoryLimit: cgroups,
    SwapLimit: cgroups,
    CpuCfsPeriod: cgroups,
    CpuCfsQuota: cgroups,
    CPUShares: cgroups,
    CPUSet: cgroups,
    PidsLimit: cgroups,
    IPv4Forwarding: true,
    BridgeNfIptables: false,
    BridgeNfIp6tables: false,
    Debug: false,
    NFd: 0,
    OomKillDisable: false,
    NGoroutines: 0,
    SystemTime: new Date().toISOString(),
    LoggingDriver: "json-file",
    CgroupDriver: cgroups ? "cgroupfs" : "none",
    CgroupVersion: e.host.cgroupMode === "v2" ? "2" : "1",
    NEventsListener: 0,
    KernelVersion: e.host.kernel,
    OperatingSystem: osName(),
    OSVersion: "",
    OSType: "linux",
    Architecture: "x86_64",
    IndexServerAddress: "https://index.docker.io/v1/",
    RegistryConfig: { AllowNondistributableArtifactsCIDRs: [], AllowNondistributableArtifactsHostnames: [], InsecureRegistryCIDRs: ["127.0.0.0/8"], IndexConfigs: {}, Mirrors: [] },
    NCPU: cpus().length,
    MemTotal: totalmem(),
    GenericResources: null,
    DockerRootDir: e.root,
    HttpProxy: "",
    HttpsProxy: "",
    NoProxy: "",
    Name: hostname(),
    Labels: [],
    ExperimentalBuild: false,
    ServerVersion: pkg.version,
    Runtimes: { berth: { path: "berth-monitor" } },
    DefaultRuntime: "berth",
    Swarm: { NodeID: "", NodeAddr: "", LocalNodeState: "inactive", ControlAvailable: false, Error: "", RemoteManagers: null },
    LiveRestoreEnabled: true,
    Isolation: "",
    InitBinary: "",
    ContainerdCommit: { ID: "", Expected: "" },
    RuncCommit: { ID: "", Expected: "" },
    InitCommit: { ID: "", Expected: "" },
    SecurityOptions: ["name=seccomp,profile=builtin", ...(e.options.userns ? ["name=userns"] : [])],
    Warnings: cgroups ? [] : ["WARNING: No cgroups: the none cgroup driver applies no memory, CPU, pids or I/O limit"],
    // berth's own: every plugin, whether it can run here, and why not.
    BerthCgroupDriver: e.pluginName("limits"),
    BerthCgroupMode: e.host.cgroupMode,
    BerthSocket: e.options.socket ?? "",
    BerthUsernsRemap: e.options.userns ? usernsInfo(e.options.userns) : null,
    BerthPlugins: plugins.map((p) => ({ Kind: p.kind, Name: p.name, Available: p.available, Default: p.isDefault, Reason: p.reason ?? "", Description: p.description })),
  });
}

/** Docker's storage lines, plus the containers a daemon with another --storage-driver made (they keep it). */
function driverStatus(e: Engine): [string, string][] {
  const current = e.pluginName("storage");
  const out: [string, string][] = [["Root Dir", `${e.root}/layers/${current}`]];
  const others = new Map<string, number>();
  for (const c of e.list()) if (c.Driver !== current) others.set(c.Driver, (others.get(c.Driver) ?? 0) + 1);
  for (const [driver, n] of others) out.push([`Containers on ${driver}`, String(n)]);
  return out;
}

/** --userns-remap as `berth info` shows it: whose ids, and the host ranges ("100000:65536"). */
function usernsInfo(r: Remap) {
  return { User: r.user, Group: r.group, Uids: describeRanges(r.uids), Gids: describeRanges(r.gids) };
}

function osName(): string {
  try {
    return /PRETTY_NAME="?([^"\n]*)"?/.exec(readFileSync("/etc/os-release", "utf8"))?.[1] ?? "Linux";
  } catch {
    return "Linux";
  }
}

/** GET /events: stored events from `since`, then live ones, until `until` or the client leaves. */
async function events(ctx: Ctx) {
  const f = parseFilters(ctx.query.get("filters"));
  const now = Date.now() / 1000;
  const since = ctx.query.get("since") ? parseTime(ctx.query.get("since")!) : undefined;
  const until = ctx.query.get("until") ? parseTime(ctx.query.get("until")!) : undefined;
  ctx.res.writeHead(200, { "Content-Type": "application/json" });
  ctx.res.flushHeaders?.();
  // Event times only grow: anything not newer than the last sent was sent already.
  let last = 0;
  const me = requester();
  const send = (e: DockerEvent, emitter?: Owner) => {
    if (e.timeNano <= last) return;
    last = e.timeNano;
    if (matchEvent(e, f) && (!me || runAs(me, () => eventVisible(ctx, e, emitter)))) ctx.res.write(`${JSON.stringify(e)}\n`);
  };
  // Subscribe before reading the stored ones, so none falls in between.
  const pending: DockerEvent[] = [];
  let replaying = true;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const end = () => {
    unsubscribe();
    clearTimeout(timer);
    if (!ctx.res.writableEnded) ctx.res.end();
  };
  // A live event comes in the context of the request that caused it: its client is the emitter.
  const emitters = new Map<DockerEvent, Owner | undefined>();
  const unsubscribe = ctx.engine.events.subscribe((e) => {
    if (replaying) {
      pending.push(e);
      emitters.set(e, currentOwner());
    } else if (until !== undefined && e.time > until) end();
    else send(e, currentOwner());
  });
  if (since !== undefined) for (const e of ctx.engine.events.past(since, Math.min(until ?? now, now))) send(e);
  replaying = false;
  for (const e of pending) send(e, emitters.get(e));
  emitters.clear();
  ctx.res.on("close", end);
  if (until !== undefined) {
    if (until <= now) return end();
    timer = setTimeout(end, (until - now) * 1000);
  }
}

/**
 * Under --owner-scope, a client sees the events of what it may see: its own
 * actions, and those on objects visible to it (images are everyone's).
 */
function eventVisible(ctx: Ctx, e: DockerEvent, emitter: Owner | undefined): boolean {
  if (emitter && visible(emitter)) return true;
  const id = e.Actor.ID;
  switch (e.Type) {
    case "container": {
      const c = ctx.engine.list().find((x) => x.Id === id);
      return !!c && visible(c.Owner);
    }
    case "network": {
      const n = ctx.engine.db.listNetworks().find((x) => x.Id === id);
      return !!n && visible(n.Owner, PREDEFINED.includes(n.Name));
    }
    case "volume": {
      const v = ctx.engine.db.listVolumes().find((x) => x.Name === id);
      return !!v && visible(v.Owner);
    }
    default:
      return true; // images and the daemon's own
  }
}

async function df(ctx: Ctx) {
  const e = ctx.engine;
  const images = await e.images();
  const containers = e.list().filter((c) => visible(c.Owner));
  const users = new Map<string, number>();
  for (const c of containers) users.set(c.Image, (users.get(c.Image) ?? 0) + 1);
  const layersSize = e.db.listLayers().reduce((n, l) => n + l.size, 0);
  const cs = [];
  for (const c of containers) {
    const storage = await e.storage(c.Driver);
    cs.push({ ...containerSummary(c), SizeRw: await storage.writableSize(c.Id).catch(() => 0), SizeRootFs: e.db.getImage(c.Image)?.size ?? 0 });
  }
  json(ctx.res, 200, {
    LayersSize: layersSize,
    Images: images.list().map(({ image, tags }) => imageSummary(image, tags, users.get(image.id) ?? 0)),
    Containers: cs,
    Volumes: e.db.listVolumes().filter((v) => visible(v.Owner)).map((v) => ({ ...volumeJSON(v), UsageData: { Size: dirSize(v.Mountpoint), RefCount: volumeUsers(e, v.Name).length } })),
    BuildCache: [],
  });
}
