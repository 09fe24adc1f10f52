// /networks/...: create, list, inspect, remove, connect, disconnect, prune.
import { matchLabel } from "../../engine/volumes.ts";
import {
  connectContainer, createNetwork, disconnectContainer, findNetwork, listNetworks, networkUsers, pruneNetworks, removeNetwork, PREDEFINED, type NetworkCreateRequest,
} from "../../engine/networks.ts";
import type { EndpointSettings } from "../../engine/types.ts";
import { invalidArgument } from "../../errors.ts";
import { visible } from "../../owner.ts";
import { json, type Router } from "../server.ts";
import { networkJSON } from "../shapes.ts";
import { parseFilters } from "./util.ts";

export function networkRoutes(r: Router) {
  r.on("GET", "/networks", (ctx) => {
    const f = parseFilters(ctx.query.get("filters"));
    const list = listNetworks(ctx.engine).filter(
      (n) =>
        visible(n.Owner, PREDEFINED.includes(n.Name)) &&
        (!f.name?.length || f.name.some((x) => n.Name.includes(x))) &&
        (!f.id?.length || f.id.some((x) => n.Id.startsWith(x))) &&
        (!f.driver?.length || f.driver.includes(n.Driver)) &&
        (!f.type?.length || f.type.includes(PREDEFINED.includes(n.Name) ? "builtin" : "custom")) &&
        (!f.dangling?.length || (f.dangling[0] === "true") === (networkUsers(ctx.engine, n).length === 0 && !PREDEFINED.includes(n.Name))) &&
        (f.label ?? []).every((l) => matchLabel(n.Labels, l)),
    );
    json(ctx.res, 200, list.map((n) => networkJSON(n)));
  });
  r.on("POST", "/networks/create", async (ctx) => json(ctx.res, 201, await createNetwork(ctx.engine, await ctx.body<NetworkCreateRequest>("network-create"))));
  r.on("POST", "/networks/prune", async (ctx) => json(ctx.res, 200, { NetworksDeleted: await pruneNetworks(ctx.engine) }));
  r.on("GET", "/networks/{id}", (ctx) => {
    const n = findNetwork(ctx.engine, ctx.params.id!);
    json(ctx.res, 200, networkJSON(n, networkUsers(ctx.engine, n)));
  });
  r.on("DELETE", "/networks/{id}", async (ctx) => {
    await removeNetwork(ctx.engine, ctx.params.id!);
    ctx.res.writeHead(204).end();
  });
  r.on("POST", "/networks/{id}/connect", async (ctx) => {
    const body = await ctx.body<{ Container?: string; EndpointConfig?: EndpointSettings }>("network-connect");
    if (!body.Container) throw invalidArgument("no container given (Container)");
    await connectContainer(ctx.engine, ctx.params.id!, ctx.engine.container(body.Container), body.EndpointConfig ?? {});
    ctx.res.writeHead(200).end();
  });
  r.on("POST", "/networks/{id}/disconnect", async (ctx) => {
    const body = await ctx.body<{ Container?: string; Force?: boolean }>("network-disconnect");
    if (!body.Container) throw invalidArgument("no container given (Container)");
    await disconnectContainer(ctx.engine, ctx.params.id!, ctx.engine.container(body.Container));
    ctx.res.writeHead(200).end();
  });
}
