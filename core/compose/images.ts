// The images a stack needs, before anything is planned: built when the
// service has `build` and no image yet (or --build), pulled when missing
// (or pull_policy: always), refused when missing with pull_policy: never.
import { readFileSync } from "node:fs";
import { failedPrecondition } from "../errors.ts";
import type { Progress } from "./apply.ts";
import type { Backend } from "./backend.ts";
import type { Project, Service } from "./model.ts";
import { serviceSpec, type ContainerSpec } from "./spec.ts";

export interface ImageOptions {
  /** --build: build every service that has `build`. */
  build?: boolean;
  /** --pull: "always" pulls every image-only service; "never" refuses missing ones. */
  pull?: "always" | "missing" | "never";
  quiet?: boolean;
}

/** Make sure each service's image is there; returns the image id by service. */
export async function ensureImages(backend: Backend, project: Project, services: string[], opts: ImageOptions, say: Progress): Promise<Record<string, string>> {
  // Builds one at a time (their output would interleave), pulls in parallel.
  for (const name of services) {
    const s = project.services[name]!;
    if (!s.build) continue;
    if (opts.build || s.pull_policy === "build" || !(await backend.imageId(s.image))) {
      say("Image", s.image, "Building");
      await backend.build(s.image, s.build, !!opts.quiet);
      say("Image", s.image, "Built");
    }
  }
  // One lookup and at most one pull per image, however many services share it.
  const lookup = memo((ref) => backend.imageId(ref));
  const pull = memo(async (ref) => {
    say("Image", ref, "Pulling");
    await backend.pull(ref);
    say("Image", ref, "Pulled");
    return backend.imageId(ref);
  });
  const out: Record<string, string> = {};
  await Promise.all(
    services.map(async (name) => {
      const s = project.services[name]!;
      let id = await lookup(s.image);
      const policy = opts.pull ?? pullPolicy(s);
      if (!s.build && (policy === "always" || (!id && policy === "missing"))) id = await pull(s.image);
      if (!id) throw failedPrecondition(`service "${name}": image ${s.image} is not there and pull_policy is never`, `pull or build it first: berth pull ${s.image}`);
      out[name] = id;
    }),
  );
  return out;
}

/** `f` called once per key: later calls share the first call's promise. */
function memo<T>(f: (key: string) => Promise<T>): (key: string) => Promise<T> {
  const seen = new Map<string, Promise<T>>();
  return (key) => {
    let p = seen.get(key);
    if (!p) seen.set(key, (p = f(key)));
    return p;
  };
}

function pullPolicy(s: Service): "always" | "missing" | "never" {
  if (s.pull_policy === "always") return "always";
  if (s.pull_policy === "never") return "never";
  return "missing";
}

/** Every service's spec, from its image id. */
export function specsOf(project: Project, imageIds: Record<string, string>): Record<string, ContainerSpec> {
  const io = { readFile: (p: string) => readFileSync(p), env: process.env };
  return Object.fromEntries(Object.entries(imageIds).map(([name, id]) => [name, serviceSpec(project, project.services[name]!, id, io)]));
}
