// /images/...: list, inspect, history, tag, remove, import, prune, save, load.
import { invalidArgument, isKind, permissionDenied } from "../../errors.ts";
import { ownerText, visible } from "../../owner.ts";
import { pullImage } from "../../images/pull.ts";
import { pushImage } from "../../images/push.ts";
import type { Credentials } from "../../images/registry.ts";
import { chainIds } from "../../images/store.ts";
import { familiarName, parseReference } from "../../images/reference.ts";
import type { ImageRecord } from "../../engine/types.ts";
import { loadImages, saveImages } from "../../images/save-load.ts";
import { errorMessage, json, type Ctx, type Router } from "../server.ts";
import { imageHistory, imageInspect, imageSummary } from "../shapes.ts";
import { flag, jsonStream, parseFilters, writeChunk } from "./util.ts";

export function imageRoutes(r: Router) {
  r.on("GET", "/images/json", listImages);
  r.on("POST", "/images/create", createImage);
  r.on("POST", "/images/prune", pruneImages);
  r.on("GET", "/images/get", (ctx) => saveRoute(ctx, ctx.query.getAll("names")));
  r.on("POST", "/images/load", loadRoute);
  r.on("GET", "/images/{name*}/get", (ctx) => saveRoute(ctx, [ctx.params.name!]));
  r.on("GET", "/images/{name*}/json", async (ctx) => {
    const images = await ctx.engine.images();
    const img = images.resolve(ctx.params.name!);
    json(ctx.res, 200, imageInspect(img, images.tagsOf(img.id), ctx.engine.pluginName("storage") ?? "", images.repoDigestsOf(img.id), ctx.engine.db.imageOwner(img.id)));
  });
  r.on("GET", "/images/{name*}/history", async (ctx) => {
    const images = await ctx.engine.images();
    const img = images.resolve(ctx.params.name!);
    const sizes = chainIds(img.config.rootfs.diff_ids).map((c) => ctx.engine.db.getLayer(c)?.size ?? 0);
    const ancestors = [];
    for (let p = img.parent && ctx.engine.db.getImage(img.parent); p; p = p.parent && ctx.engine.db.getImage(p.parent)) ancestors.push({ image: p, tags: images.tagsOf(p.id) });
    json(ctx.res, 200, imageHistory(img, images.tagsOf(img.id), sizes, ancestors));
  });
  r.on("POST", "/images/{name*}/push", async (ctx) => {
    const images = await ctx.engine.images();
    const tag = ctx.query.get("tag");
    const ref = tag ? `${ctx.params.name}:${tag}` : ctx.params.name!;
    const credentials = registryAuth(ctx);
    images.resolve(ref); // a missing image is a plain 404
    await jsonStream(ctx, async (progress, emit) => {
      const out = await pushImage(images, ref, { registry: ctx.engine.registryOptions(), credentials, progress });
      ctx.engine.emit("image", "push", ref, { name: familiarName(parseReference(ref)) });
      emit({ progressDetail: {}, aux: { Tag: parseReference(ref).tag, Digest: out.digest, Size: out.size } });
    });
  });
  r.on("POST", "/images/{name*}/tag", async (ctx) => {
    const images = await ctx.engine.images();
    const img = images.resolve(ctx.params.name!);
    const repo = ctx.query.get("repo");
    if (!repo) throw invalidArgument("repository name is required (?repo=)");
    const ref = `${repo}${ctx.query.get("tag") ? `:${ctx.query.get("tag")}` : ""}`;
    images.tag(img.id, ref);
    ctx.engine.emit("image", "tag", img.id, { name: familiarName(parseReference(ref)) });
    ctx.res.writeHead(201).end();
  });
  r.on("DELETE", "/images/{name*}", async (ctx) => {
    const images = await ctx.engine.images();
    // Images are content everyone may use (--owner-scope); only who brought one in (or root) removes it.
    const owner = ctx.engine.db.imageOwner(images.resolve(ctx.params.name!).id);
    if (!visible(owner)) throw permissionDenied(`image ${ctx.params.name} belongs to ${ownerText(owner)}: only its owner or root can remove it`);
    const usedBy = (imageId: string) => ctx.engine.list().filter((c) => c.Image === imageId).map((c) => ({ id: c.Id, running: c.State.Running }));
    const lines = await images.remove(ctx.params.name!, flag(ctx, "force"), usedBy);
    const out = lines.map((l) => {
      const [kind, what] = l.split(": ") as [string, string];
      ctx.engine.emit("image", kind === "Untagged" ? "untag" : "delete", what, { name: what });
      return kind === "Untagged" ? { Untagged: what } : { Deleted: what };
    });
    json(ctx.res, 200, out);
  });
}

async function listImages(ctx: Ctx) {
  const images = await ctx.engine.images();
  const f = parseFilters(ctx.query.get("filters"));
  const users = new Map<string, number>();
  for (const c of ctx.engine.list()) users.set(c.Image, (users.get(c.Image) ?? 0) + 1);
  const out = [];
  const hidden = flag(ctx, "all") ? new Set<string>() : images.intermediates();
  for (const { image, tags } of images.list()) {
    if (hidden.has(image.id) || !matchImage(image, tags, f)) continue;
    // With a reference filter, only the names it matches are listed (as Docker does).
    const shown = f.reference?.length ? tags.filter((t) => f.reference!.some((ref) => referenceMatch(ref, t))) : tags;
    const repos = new Set(shown.map((t) => t.slice(0, t.lastIndexOf(":"))));
    const digests = images.repoDigestsOf(image.id).filter((d) => !f.reference?.length || repos.has(d.split("@")[0]!));
    out.push(imageSummary(image, shown, users.get(image.id) ?? 0, digests));
  }
  json(ctx.res, 200, out);
}

/** Docker's image filters: dangling, label, reference. */
function matchImage(img: ImageRecord, tags: string[], f: Record<string, string[]>): boolean {
  const labels = img.config.config?.Labels ?? {};
  if (f.dangling?.length && (f.dangling[0] === "true") !== (tags.length === 0)) return false;
  if (f.reference?.length && !f.reference.some((ref) => tags.some((t) => referenceMatch(ref, t)))) return false;
  return (f.label ?? []).every((v) => {
    const eq = v.indexOf("=");
    return eq < 0 ? v in labels : labels[v.slice(0, eq)] === v.slice(eq + 1);
  });
}

/** A reference filter against a tag; one without a tag matches every tag ("host:port/repo" has a colon, but in its domain). */
function referenceMatch(ref: string, tag: string): boolean {
  const hasTag = ref.slice(ref.lastIndexOf("/") + 1).includes(":");
  return globMatch(hasTag ? ref : `${ref}:*`, tag);
}

function globMatch(pattern: string, value: string): boolean {
  return new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, ".")}$`).test(value);
}

/** The credentials of a request: Docker's X-Registry-Auth, base64url JSON {username, password, identitytoken, serveraddress}. */
export function registryAuth(ctx: Ctx): Credentials | undefined {
  const header = ctx.req.headers["x-registry-auth"];
  if (typeof header !== "string" || header === "") return undefined;
  try {
    const a = JSON.parse(Buffer.from(header, "base64url").toString()) as Credentials;
    return a.username || a.password || a.identitytoken || a.registrytoken ? a : undefined;
  } catch {
    throw invalidArgument("the X-Registry-Auth header is not base64url JSON");
  }
}

async function pull(ctx: Ctx, fromImage: string) {
  const tag = ctx.query.get("tag");
  const ref = tag ? (tag.startsWith("sha256:") ? `${fromImage}@${tag}` : `${fromImage}:${tag}`) : fromImage;
  const images = await ctx.engine.images();
  const credentials = registryAuth(ctx);
  await jsonStream(ctx, async (progress) => {
    const { image } = await pullImage(images, ref, { platform: ctx.query.get("platform") || undefined, registry: ctx.engine.registryOptions(), credentials, progress });
    ctx.engine.emit("image", "pull", image.id, { name: familiarName(parseReference(ref)) });
  });
}

/** POST /images/create: pull (fromImage) or import (fromSrc). */
async function createImage(ctx: Ctx) {
  const fromSrc = ctx.query.get("fromSrc");
  const fromImage = ctx.query.get("fromImage");
  if (fromImage) return pull(ctx, fromImage);
  if (fromSrc !== "-") throw invalidArgument("only fromSrc=- (the request body) is supported for imports");
  const repo = ctx.query.get("repo");
  const tag = ctx.query.get("tag");
  const images = await ctx.engine.images();
  const img = await images.import(ctx.stream(), {
    ref: repo ? `${repo}${tag ? `:${tag}` : ""}` : undefined,
    changes: ctx.query.getAll("changes"),
    message: ctx.query.get("message") ?? undefined,
    source: "-",
  });
  ctx.engine.emit("image", "import", img.id, { name: repo ?? img.id });
  ctx.res.writeHead(200, { "Content-Type": "application/json" });
  ctx.res.end(`${JSON.stringify({ status: img.id })}\n`);
}

/** POST /images/prune: dangling images (dangling=false: every image no container uses). */
async function pruneImages(ctx: Ctx) {
  const f = parseFilters(ctx.query.get("filters"));
  const danglingOnly = (f.dangling?.[0] ?? "true") !== "false";
  const images = await ctx.engine.images();
  const used = new Set(ctx.engine.list().map((c) => c.Image));
  const deleted: { Untagged?: string; Deleted?: string }[] = [];
  let space = 0;
  // Intermediate images go with the images built on them (rmi deletes unused untagged parents).
  const intermediates = images.intermediates();
  for (const { image, tags } of images.list()) {
    if (used.has(image.id) || intermediates.has(image.id) || (danglingOnly && tags.length > 0)) continue;
    if (!visible(ctx.engine.db.imageOwner(image.id))) continue; // another user's (--owner-scope)
    try {
      for (const line of await images.remove(image.id.slice(7), true, () => [])) {
        const [kind, what] = line.split(": ") as [string, string];
        deleted.push(kind === "Untagged" ? { Untagged: what } : { Deleted: what });
      }
      space += image.size;
    } catch (err) {
      if (!isKind(err, "NotFound")) throw err;
    }
  }
  ctx.engine.emit("image", "prune", "", { reclaimed: String(space) });
  json(ctx.res, 200, { ImagesDeleted: deleted, SpaceReclaimed: space });
}

/** GET /images/{name}/get and /images/get?names=...: `docker save`, a tar streamed as it is written. */
async function saveRoute(ctx: Ctx, names: string[]) {
  if (names.length === 0) throw invalidArgument("no image to save: give one or more names (?names=)");
  const images = await ctx.engine.images();
  const chunks = saveImages(images, names, (id) => ctx.engine.emit("image", "save", id, { name: id }));
  // The first chunk comes once every image and blob is found: a missing one still gets its status.
  let next = await chunks.next();
  ctx.res.writeHead(200, { "Content-Type": "application/x-tar" });
  for (; !next.done; next = await chunks.next()) {
    if (!(await writeChunk(ctx.res, next.value))) return void (await chunks.return());
  }
  ctx.res.end();
}

/**
 * POST /images/load: the body is an archive of `docker save` or an OCI
 * layout; the answer a JSON stream of {"stream": "Loaded image: ..."}. An
 * error before the first line gets a status and {"message"}; after it, an
 * errorDetail line, as Docker sends. `quiet` only hides progress, which
 * berth does not report.
 */
async function loadRoute(ctx: Ctx) {
  const images = await ctx.engine.images();
  const start = () => ctx.res.headersSent || ctx.res.writeHead(200, { "Content-Type": "application/json" });
  const line = (msg: object) => writeChunk(ctx.res, `${JSON.stringify(msg)}\n`);
  try {
    await loadImages(images, ctx.stream(), {
      onLoaded: async (id, lines) => {
        ctx.engine.emit("image", "load", id, { name: id });
        start();
        for (const l of lines) await line({ stream: `${l}\n` });
      },
    });
  } catch (err) {
    if (!ctx.res.headersSent) throw err;
    const message = errorMessage(err);
    await line({ errorDetail: { message }, error: message });
  }
  start(); // an archive of no image answers an empty stream
  ctx.res.end();
}
