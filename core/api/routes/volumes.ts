// /volumes/...: create, list, inspect, remove, prune.
import { createVolume, getVolume, listVolumes, matchLabel, pruneVolumes, removeVolume, volumeUsers, type VolumeCreateRequest } from "../../engine/volumes.ts";
import { visible } from "../../owner.ts";
import { json, type Router } from "../server.ts";
import { volumeJSON } from "../shapes.ts";
import { flag, parseFilters } from "./util.ts";

export function volumeRoutes(r: Router) {
  r.on("GET", "/volumes", (ctx) => {
    const f = parseFilters(ctx.query.get("filters"));
    const vols = listVolumes(ctx.engine).filter(
      (v) =>
        visible(v.Owner) &&
        (!f.name?.length || f.name.some((n) => v.Name.includes(n))) &&
        (!f.driver?.length || f.driver.includes(v.Driver)) &&
        (f.label ?? []).every((l) => matchLabel(v.Labels, l)) &&
        (!f.dangling?.length || (f.dangling[0] === "true") === (volumeUsers(ctx.engine, v.Name).length === 0)),
    );
    json(ctx.res, 200, { Volumes: vols.map(volumeJSON), Warnings: [] });
  });
  r.on("POST", "/volumes/create", async (ctx) => json(ctx.res, 201, volumeJSON(await createVolume(ctx.engine, await ctx.body<VolumeCreateRequest>("volume-create")))));
  r.on("POST", "/volumes/prune", async (ctx) => {
    const f = parseFilters(ctx.query.get("filters"));
    json(ctx.res, 200, await pruneVolumes(ctx.engine, (f.all?.[0] ?? "") === "true" || f.all?.[0] === "1", f.label ?? []));
  });
  r.on("GET", "/volumes/{name}", (ctx) => json(ctx.res, 200, volumeJSON(getVolume(ctx.engine, ctx.params.name!))));
  r.on("DELETE", "/volumes/{name}", async (ctx) => {
    await removeVolume(ctx.engine, ctx.params.name!, flag(ctx, "force"));
    ctx.res.writeHead(204).end();
  });
}
