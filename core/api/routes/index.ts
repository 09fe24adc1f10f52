import { Router } from "../server.ts";
import { buildRoutes } from "./build.ts";
import { containerRoutes } from "./containers.ts";
import { execRoutes } from "./exec.ts";
import { imageRoutes } from "./images.ts";
import { networkRoutes } from "./networks.ts";
import { systemRoutes } from "./system.ts";
import { volumeRoutes } from "./volumes.ts";

export function apiRouter(): Router {
  const r = new Router();
  systemRoutes(r);
  containerRoutes(r);
  execRoutes(r);
  imageRoutes(r);
  buildRoutes(r);
  volumeRoutes(r);
  networkRoutes(r);
  return r;
}
