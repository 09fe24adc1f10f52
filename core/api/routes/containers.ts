// /containers/...: the container endpoints of the Docker Engine API.
import type { Duplex } from "node:stream";
import type { AttachStream } from "../../contracts/isolation.ts";
import { attachContainer } from "../../engine/start.ts";
import { conflict, invalidArgument } from "../../errors.ts";
import type { Engine } from "../../engine/engine.ts";
import {
  killContainer, pauseContainer, renameContainer, resizeContainer, restartContainer, stopContainer, unpauseContainer, waitContainer,
} from "../../engine/lifecycle.ts";
import type { ContainerConfig, ContainerRecord, CreateRequest } from "../../engine/types.ts";
import { visible } from "../../owner.ts";
import { json, type Ctx, type Router } from "../server.ts";
import { containerInspect, containerSummaryBase, statusText } from "../shapes.ts";
import { parseFilters, flag, intParam, pipeAttach } from "./util.ts";

export function containerRoutes(r: Router) {
  r.on("GET", "/containers/json", listContainers);
  r.on("POST", "/containers/create", async (ctx) => {
    const body = await ctx.body<CreateRequest>("container-create");
    const out = await ctx.engine.create(body, ctx.query.get("name") ?? undefined);
    json(ctx.res, 201, out);
  });
  r.on("POST", "/containers/prune", pruneContainers);
  r.on("POST", "/commit", async (ctx) => {
    const ref = ctx.query.get("container");
    if (!ref) throw invalidArgument("no container given (?container=)");
    const { commitContainer } = await import("../../engine/commit.ts");
    const config = await ctx.body<Partial<ContainerConfig>>("commit");
    const repo = ctx.query.get("repo") || undefined;
    const id = await commitContainer(ctx.engine, ctx.engine.container(ref), {
      repo,
      tag: ctx.query.get("tag") || undefined,
      comment: ctx.query.get("comment") ?? undefined,
      author: ctx.query.get("author") ?? undefined,
      changes: ctx.query.getAll("changes").flatMap((c) => c.split("\n")).filter(Boolean),
      pause: ctx.query.get("pause") !== "0" && ctx.query.get("pause") !== "false",
      config: Object.keys(config).length ? config : undefined,
    });
    json(ctx.res, 201, { Id: id });
  });
  r.on("GET", "/containers/{id}/json", (ctx) => json(ctx.res, 200, containerInspect(ctx.engine, rec(ctx))));
  r.on("POST", "/containers/{id}/start", async (ctx) => {
    const c = rec(ctx);
    await ctx.engine.start(c.Id);
    ctx.res.writeHead(204).end();
  });
  r.on("POST", "/containers/{id}/stop", async (ctx) => {
    await stopContainer(ctx.engine, rec(ctx), { timeout: num(ctx, "t"), signal: ctx.query.get("signal") ?? undefined });
    ctx.res.writeHead(204).end();
  });
  r.on("POST", "/containers/{id}/restart", async (ctx) => {
    await restartContainer(ctx.engine, rec(ctx), { timeout: num(ctx, "t"), signal: ctx.query.get("signal") ?? undefined });
    ctx.res.writeHead(204).end();
  });
  r.on("POST", "/containers/{id}/kill", async (ctx) => {
    await killContainer(ctx.engine, rec(ctx), ctx.query.get("signal") ?? undefined);
    ctx.res.writeHead(204).end();
  });
  r.on("POST", "/containers/{id}/pause", async (ctx) => {
    await pauseContainer(ctx.engine, rec(ctx));
    ctx.res.writeHead(204).end();
  });
  r.on("POST", "/containers/{id}/unpause", async (ctx) => {
    await unpauseContainer(ctx.engine, rec(ctx));
    ctx.res.writeHead(204).end();
  });
  r.on("POST", "/containers/{id}/rename", async (ctx) => {
    const name = ctx.query.get("name");
    if (!name) throw invalidArgument("the new name is missing (?name=)");
    await renameContainer(ctx.engine, rec(ctx), name);
    ctx.res.writeHead(204).end();
  });
  r.on("POST", "/containers/{id}/resize", (ctx) => {
    resizeContainer(ctx.engine, rec(ctx), intParam(ctx, "h", 0, 0, 65535), intParam(ctx, "w", 0, 0, 65535));
    ctx.res.writeHead(200).end();
  });
  r.on("POST", "/containers/{id}/wait", async (ctx) => {
    const c = rec(ctx);
    const condition = (ctx.query.get("condition") || "not-running") as "not-running" | "next-exit" | "removed";
    const result = waitContainer(ctx.engine, c, condition);
    // Headers now, as Docker does: clients know the wait is registered.
    ctx.res.writeHead(200, { "Content-Type": "application/json" });
    ctx.res.flushHeaders?.();
    ctx.res.end(JSON.stringify(await result));
  });
  r.on("DELETE", "/containers/{id}", async (ctx) => {
    await ctx.engine.remove(rec(ctx).Id, { force: flag(ctx, "force"), volumes: flag(ctx, "v") });
    ctx.res.writeHead(204).end();
  });
  r.on("POST", "/containers/{id}/attach", attach);
  r.on("GET", "/containers/{id}/logs", async (ctx) => (await import("./logs.ts")).logs(ctx, rec(ctx)));
  r.on("GET", "/containers/{id}/top", async (ctx) => {
    const c = rec(ctx);
    if (!ctx.engine.rt(c.Id).proc) throw conflict(`Container ${c.Id} is not running`);
    const { top } = await import("../../engine/top.ts");
    const pids = (await ctx.engine.plugin("limits")).pids(c.Id);
    json(ctx.res, 200, await top(pids, ctx.query.get("ps_args") || "-ef"));
  });
  r.on("GET", "/containers/{id}/stats", async (ctx) => (await import("./stats.ts")).stats(ctx, rec(ctx)));
  r.on("GET", "/containers/{id}/changes", async (ctx) => (await import("./files.ts")).changes(ctx, rec(ctx)));
  r.on("GET", "/containers/{id}/export", async (ctx) => (await import("./files.ts")).exportContainer(ctx, rec(ctx)));
  r.on("HEAD", "/containers/{id}/archive", async (ctx) => (await import("./files.ts")).archiveHead(ctx, rec(ctx)));
  r.on("GET", "/containers/{id}/archive", async (ctx) => (await import("./files.ts")).archiveGet(ctx, rec(ctx)));
  r.on("PUT", "/containers/{id}/archive", async (ctx) => (await import("./files.ts")).archivePut(ctx, rec(ctx)));
}

export function rec(ctx: Ctx): ContainerRecord {
  return ctx.engine.container(ctx.params.id!);
}

function num(ctx: Ctx, key: string): number | undefined {
  const v = ctx.query.get(key);
  if (v === null || v === "") return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw invalidArgument(`invalid value for ${key}: "${v}"`);
  return n;
}

function listContainers(ctx: Ctx) {
  const all = flag(ctx, "all");
  const limit = intParam(ctx, "limit", -1);
  const f = parseFilters(ctx.query.get("filters"));
  let list = ctx.engine.list().filter((c) => !c.Creating && visible(c.Owner));
  const byRef = (ref: string) => {
    try {
      return ctx.engine.container(ref);
    } catch {
      return undefined;
    }
  };
  if (f.before?.length) {
    const b = byRef(f.before[0]!);
    list = b ? list.filter((c) => c.Created < b.Created) : [];
  }
  if (f.since?.length) {
    const s = byRef(f.since[0]!);
    list = s ? list.filter((c) => c.Created > s.Created) : [];
  }
  if (Object.keys(f).length) list = list.filter((c) => matchContainer(ctx.engine, c, f));
  if (!all && !f.status?.length && limit <= 0 && !f.exited?.length) list = list.filter((c) => c.State.Running || c.State.Restarting);
  if (limit > 0) list = list.slice(0, limit);
  // Cached entries with the Status spliced in: `{...,"Status":"Up 2 minutes"}`.
  const body = Buffer.from(`[${list.map((c) => `${ctx.engine.cachedJson(c, containerSummaryBase).slice(0, -1)},"Status":${JSON.stringify(statusText(c))}}`).join(",")}]`);
  ctx.res.writeHead(200, { "Content-Type": "application/json", "Content-Length": body.length });
  ctx.res.end(body);
}

/** Docker's container filters: id, name, label, status, exited, ancestor, health, volume. */
export function matchContainer(engine: Engine, c: ContainerRecord, f: Record<string, string[]>): boolean {
  const any = (key: string, ok: (v: string) => boolean) => !f[key]?.length || f[key]!.some(ok);
  const labels = c.Config.Labels ?? {};
  return (
    any("id", (v) => c.Id.startsWith(v)) &&
    any("name", (v) => new RegExp(v.replace(/^\//, "")).test(c.Name.slice(1))) &&
    any("status", (v) => (v === "running" ? c.State.Running && !c.State.Paused : c.State.Status === v)) &&
    any("exited", (v) => c.State.Status === "exited" && c.State.ExitCode === Number(v)) &&
    any("health", (v) => (c.State.Health?.Status ?? "none") === v) &&
    any("ancestor", (v) => c.Config.Image === v || c.Image === v || c.Image.startsWith(`sha256:${v}`)) &&
    any("volume", (v) => c.Mounts.some((m) => m.Name === v || m.Destination === v)) &&
    any("network", (v) => c.HostConfig.NetworkMode === v) &&
    (f.label ?? []).every((v) => {
      const eq = v.indexOf("=");
      return eq < 0 ? v in labels : labels[v.slice(0, eq)] === v.slice(eq + 1);
    })
  );
}

async function pruneContainers(ctx: Ctx) {
  const f = parseFilters(ctx.query.get("filters"));
  const until = f.until?.[0] ? parseTime(f.until[0]) : Infinity;
  const deleted: string[] = [];
  let space = 0;
  const storageOf = (c: ContainerRecord) => ctx.engine.storage(c.Driver);
  for (const c of ctx.engine.list()) {
    if (c.State.Running || c.State.Restarting || c.Creating || !visible(c.Owner)) continue;
    if (Date.parse(c.Created) / 1000 > until) continue;
    if (!matchContainer(ctx.engine, c, { label: f.label ?? [] })) continue;
    space += await (await storageOf(c)).writableSize(c.Id).catch(() => 0);
    await ctx.engine.remove(c.Id, { force: false });
    deleted.push(c.Id);
  }
  ctx.engine.emit("container", "prune", "", { reclaimed: String(space) });
  json(ctx.res, 200, { ContainersDeleted: deleted, SpaceReclaimed: space });
}

/** "10m", "2h", an RFC 3339 time or unix seconds: a point in time in unix seconds. */
export function parseTime(v: string, now = Date.now()): number {
  const rel = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(v);
  if (rel) return (now - Number(rel[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[rel[2] as "s"]) / 1000;
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v);
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw invalidArgument(`invalid time "${v}": use unix seconds, RFC 3339 or a duration like 10m`);
  return t / 1000;
}

/** POST /containers/{id}/attach, hijacked (stdin too) or as a plain streaming response (output only). */
async function attach(ctx: Ctx) {
  const c = rec(ctx);
  const wanted = { stdin: flag(ctx, "stdin"), stdout: flag(ctx, "stdout"), stderr: flag(ctx, "stderr") };
  if (!wanted.stdin && !wanted.stdout && !wanted.stderr) throw invalidArgument("you must choose at least one stream");
  if (!flag(ctx, "stream") && !flag(ctx, "logs")) throw invalidArgument("either stream or logs must be set");
  const tty = !!c.Config.Tty;
  if (!flag(ctx, "stream")) {
    // Only the logs so far.
    const { logs } = await import("./logs.ts");
    ctx.query.set("stdout", wanted.stdout ? "1" : "0");
    ctx.query.set("stderr", wanted.stderr ? "1" : "0");
    return logs(ctx, c);
  }
  // Answer at once: `docker run` attaches, then starts the container.
  const client = ctx.hijack ? ctx.hijack(tty) : undefined;
  const pending = attachContainer(ctx.engine, c, { ...wanted, stdin: wanted.stdin && !!c.Config.OpenStdin });
  if (client) {
    client.once("close", () => pending.then((m) => m.destroy(), () => {}));
    let monitor: AttachStream;
    try {
      monitor = await pending;
    } catch {
      return void client.destroy();
    }
    pipeAttach(client, monitor, ctx.query.get("detachKeys") ?? "ctrl-p,ctrl-q");
  } else {
    ctx.res.writeHead(200, { "Content-Type": `application/vnd.docker.${tty ? "raw" : "multiplexed"}-stream` });
    (await pending).pipe(ctx.res as unknown as Duplex);
  }
}

