// GET /containers/{id}/stats: one sample, two (stream=false: with precpu),
// or one a second until the client leaves or the container stops.
import { cpus } from "node:os";
import type { LimitStats } from "../../contracts/limits.ts";
import { containerNetworks, statsJSON, systemCpuNanos, type NetworkStats } from "../../engine/stats.ts";
import type { ContainerRecord } from "../../engine/types.ts";
import type { Ctx } from "../server.ts";
import { flag } from "./util.ts";

export async function stats(ctx: Ctx, c: ContainerRecord) {
  const stream = ctx.query.get("stream") === null ? true : flag(ctx, "stream");
  const oneShot = flag(ctx, "one-shot");
  const limits = await ctx.engine.plugin("limits");
  const online = cpus().length;
  type Sample = { at: Date; stats?: LimitStats; system: number; networks?: Record<string, NetworkStats> };
  const sample = (): Sample => {
    const proc = ctx.engine.rt(c.Id).proc;
    let s: LimitStats | undefined;
    try {
      s = proc ? limits.stats(c.Id) : undefined;
    } catch {
      s = undefined;
    }
    return { at: new Date(), stats: s, system: systemCpuNanos(), networks: proc && c.HostConfig.NetworkMode !== "host" ? containerNetworks(proc.pid) : undefined };
  };
  const empty: LimitStats = { memory: { usage: 0, limit: 0 }, cpu: { usageNanos: 0 }, pids: { current: 0, limit: 0 } };
  const render = (cur: Sample, prev?: Sample) =>
    JSON.stringify(
      statsJSON({
        id: c.Id,
        name: c.Name,
        read: cur.at,
        preread: prev?.at ?? new Date(0),
        current: cur.stats ?? empty,
        previous: prev?.stats,
        systemCpuNanos: cur.stats ? cur.system : 0,
        previousSystemCpuNanos: prev?.stats ? prev.system : undefined,
        onlineCpus: online,
        networks: cur.networks,
        blkioServiceBytes: cur.stats?.io,
      }),
    ) + "\n";
  ctx.res.writeHead(200, { "Content-Type": "application/json" });
  let prev = sample();
  if (!stream) {
    if (!oneShot && prev.stats) {
      await Bun.sleep(1000);
      const cur = sample();
      return void ctx.res.end(render(cur, prev));
    }
    return void ctx.res.end(render(prev));
  }
  ctx.res.write(render(prev));
  let closed = false;
  ctx.res.on("close", () => (closed = true));
  while (!closed) {
    await Bun.sleep(1000);
    const cur = sample();
    if (closed) break;
    ctx.res.write(render(cur, prev));
    prev = cur;
    if (!cur.stats && !ctx.engine.rt(c.Id).proc) break;
  }
  ctx.res.end();
}
