// A container's files: docker cp (archive HEAD/GET/PUT), export and diff.
// A running container is reached through /proc/<pid>/root (its volumes and
// tmpfs mounts included); a stopped one through its mounted root filesystem.
import { invalidArgument } from "../../errors.ts";
import { exportRootfs, getArchive, putArchive, statPath } from "../../engine/archive.ts";
import { ZERO_TIME, type ContainerRecord } from "../../engine/types.ts";
import { withoutEngineFiles } from "../../engine/changes.ts";
import { libcSys } from "../../sys/libc.ts";
import { json, type Ctx } from "../server.ts";
import { flag, writeChunk } from "./util.ts";
import { containerIds } from "../../engine/userns.ts";

/** Run `fn` on the container's root filesystem as the host sees it. */
async function withRoot<T>(ctx: Ctx, c: ContainerRecord, fn: (root: string) => Promise<T>): Promise<T> {
  const proc = ctx.engine.rt(c.Id).proc;
  if (proc) return fn(`/proc/${proc.pid}/root`);
  const storage = await ctx.engine.storage(c.Driver);
  return ctx.engine.serialize(c.Id, async () => {
    const root = await storage.mount(c.Id);
    try {
      return await fn(root);
    } finally {
      if (!ctx.engine.rt(c.Id).proc) await storage.unmount(c.Id);
    }
  });
}

const pathOf = (ctx: Ctx) => {
  const p = ctx.query.get("path");
  if (!p) throw invalidArgument("path is required (?path=)");
  // What no file can be named: a 400 here rather than an error from the kernel.
  if (p.includes("\0")) throw invalidArgument("invalid path: it contains a NUL byte");
  if (Buffer.byteLength(p) > 4095 || p.split("/").some((seg) => Buffer.byteLength(seg) > 255)) {
    throw invalidArgument(`invalid path "${p.slice(0, 100)}...": file name too long (at most 255 bytes a name, 4095 in all)`);
  }
  return p;
};

const statHeader = (stat: object) => Buffer.from(JSON.stringify(stat)).toString("base64");

export async function archiveHead(ctx: Ctx, c: ContainerRecord) {
  const stat = await withRoot(ctx, c, async (root) => statPath(root, pathOf(ctx), c.Name.slice(1)));
  ctx.res.writeHead(200, { "X-Docker-Container-Path-Stat": statHeader(stat), "Content-Type": "application/x-tar" });
  ctx.res.end();
}

export async function archiveGet(ctx: Ctx, c: ContainerRecord) {
  await withRoot(ctx, c, async (root) => {
    const path = pathOf(ctx);
    const stat = statPath(root, path, c.Name.slice(1));
    ctx.res.writeHead(200, { "X-Docker-Container-Path-Stat": statHeader(stat), "Content-Type": "application/x-tar" });
    for await (const chunk of getArchive(root, path, libcSys, c.Name.slice(1), containerIds(ctx.engine, c)?.toContainer)) {
      if (!(await writeChunk(ctx.res, chunk))) return;
    }
    ctx.res.end();
  });
}

export async function archivePut(ctx: Ctx, c: ContainerRecord) {
  // Frozen while writing, as Docker pauses it: the container cannot swap a directory for a symlink mid-copy.
  const running = !!ctx.engine.rt(c.Id).proc && !c.State.Paused;
  // Unlike Docker, a read-only container that has not started yet takes files
  // (compose puts secrets and configs in this way before the first start).
  if (c.HostConfig.ReadonlyRootfs && (running || c.State.StartedAt !== ZERO_TIME)) throw invalidArgument("container rootfs is marked read-only");
  const limits = await ctx.engine.plugin("limits");
  if (running) await limits.freeze(c.Id);
  try {
    await withRoot(ctx, c, (root) =>
      putArchive(root, pathOf(ctx), ctx.stream(), { noOverwriteDirNonDir: flag(ctx, "noOverwriteDirNonDir"), copyUIDGID: flag(ctx, "copyUIDGID"), sys: libcSys, container: c.Name.slice(1), ids: containerIds(ctx.engine, c)?.toHost }),
    );
  } finally {
    if (running) await limits.thaw(c.Id);
  }
  ctx.res.writeHead(200).end();
}

export async function exportContainer(ctx: Ctx, c: ContainerRecord) {
  const storage = await ctx.engine.storage(c.Driver);
  await ctx.engine.serialize(c.Id, async () => {
    const wasMounted = !!ctx.engine.rt(c.Id).proc;
    const root = await storage.mount(c.Id);
    try {
      ctx.res.writeHead(200, { "Content-Type": "application/x-tar" });
      for await (const chunk of exportRootfs(root, libcSys, containerIds(ctx.engine, c)?.toContainer)) {
        if (!(await writeChunk(ctx.res, chunk))) return;
      }
      ctx.res.end();
    } finally {
      if (!wasMounted && !ctx.engine.rt(c.Id).proc) await storage.unmount(c.Id);
    }
  });
  ctx.engine.emit("container", "export", c.Id, ctx.engine.containerAttributes(c));
}

export async function changes(ctx: Ctx, c: ContainerRecord) {
  const result = withoutEngineFiles(await (await ctx.engine.storage(c.Driver)).changes(c.Id));
  json(ctx.res, 200, result.length ? result : null);
}
