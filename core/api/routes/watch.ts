// berth's own API for compose watch (the Docker API has none): the daemon
// runs the watches, so one outlives the terminal that started it.
//   POST   /berth/compose/watch            {load, services, detach}: start (or replace) the project's watch;
//                                          attached, the answer is its log as JSON lines, and the watch
//                                          ends when the client goes; detached, its status.
//   GET    /berth/compose/watch            the watches and their recent events
//   DELETE /berth/compose/watch/{project}  stop one
import { Client } from "../../cli/client.ts";
import { EngineBackend } from "../../compose/engine-backend.ts";
import { loadProject, type LoadOptions } from "../../compose/loader/index.ts";
import { ProjectWatch } from "../../compose/watch.ts";
import { failedPrecondition, notFound } from "../../errors.ts";
import { json, type Ctx } from "../server.ts";

const watches = new Map<string, ProjectWatch>();

export function listWatches(ctx: Ctx) {
  json(ctx.res, 200, [...watches.values()].map((w) => w.status()));
}

export async function deleteWatch(ctx: Ctx) {
  const w = watches.get(ctx.params.project!);
  if (!w) throw notFound(`no watch for project ${ctx.params.project}`);
  await stopWatch(w);
  ctx.res.writeHead(204).end();
}

async function stopWatch(w: ProjectWatch) {
  if (watches.get(w.name) === w) watches.delete(w.name);
  await w.stop();
}

export async function startWatch(ctx: Ctx) {
  const body = await ctx.body<{ load?: LoadOptions; services?: string[]; detach?: boolean }>("compose-watch");
  const { project } = await loadProject({ ...body.load, env: body.load?.env ?? {} });
  const services = body.services ?? [];
  const watched = Object.keys(project.services).filter((s) => (!services.length || services.includes(s)) && project.services[s]!.develop?.watch.length);
  if (!watched.length) throw failedPrecondition(`none of the ${services.length ? "selected " : ""}services of ${project.name} has develop.watch rules`, "add develop: watch: [...] to a service");
  const backend = new EngineBackend(new Client(ctx.engine.options.socket!));
  const watch = new ProjectWatch(project, body.load ?? {}, services, ctx.engine, backend, !!body.detach);
  const old = watches.get(project.name);
  if (old) await stopWatch(old);
  watches.set(project.name, watch);
  try {
    await watch.start();
  } catch (err) {
    await stopWatch(watch);
    throw err;
  }
  if (body.detach) return json(ctx.res, 200, watch.status());
  ctx.res.writeHead(200, { "Content-Type": "application/json" });
  const unfollow = watch.follow((e) => ctx.res.write(`${JSON.stringify(e)}\n`));
  await new Promise<void>((r) => ctx.res.on("close", () => r()));
  unfollow();
  // An attached watch ends with its client (`--detach` keeps one going).
  if (!watch.detached) await stopWatch(watch);
}
