import { Router } from "../server.ts";
import { buildRoutes } from "./build.ts";
import { containerRoutes } from "./containers.ts";
import { execRoutes } from "./exec.ts";
import { imageRoutes } from "./images.ts";
import { networkRoutes } from "./networks.ts";
import { systemRoutes } from "./system.ts";
import { rootOnly } from "./util.ts";
import { volumeRoutes } from "./volumes.ts";

/** berth's compose watch API (routes/watch.ts), loaded only when used. */
function watchRoutes(r: Router) {
  r.on("POST", "/berth/compose/watch", async (ctx) => (rootOnly("compose watch"), (await import("./watch.ts")).startWatch(ctx)));
  r.on("GET", "/berth/compose/watch", async (ctx) => (rootOnly("compose watch"), (await import("./watch.ts")).listWatches(ctx)));
  r.on("DELETE", "/berth/compose/watch/{project}", async (ctx) => (rootOnly("compose watch"), (await import("./watch.ts")).deleteWatch(ctx)));
}


export function apiRouter(): Router {
  const r = new Router();
  systemRoutes(r);
  containerRoutes(r);
  execRoutes(r);
  imageRoutes(r);
  buildRoutes(r);
  volumeRoutes(r);
  networkRoutes(r);
  watchRoutes(r);
  return r;
}
