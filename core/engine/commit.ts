// docker commit: a container's changes become one new layer on top of its
// image, and its configuration (with --change instructions) the new image's.
// The layer is the changed files read from the container's root filesystem
// as the storage driver mounts it (not through the container's own mounts:
// volumes, /proc and berth's /etc files are not part of it), plus a
// whiteout for every deleted path.
import { withoutEngineFiles } from "./changes.ts";
import { applyChanges } from "../images/changes.ts";
import { chainIds, LAYER_TAR } from "../images/store.ts";
import { TAR_END, tarDirectory, writeTar } from "../images/tar-writer.ts";
import { libcSys } from "../sys/libc.ts";
import type { Engine } from "./engine.ts";
import type { ImageStore } from "../images/store.ts";
import type { ContainerConfig, ContainerRecord, ImageConfig, ImageRecord } from "./types.ts";
import { containerIds } from "./userns.ts";

export interface CommitOptions {
  repo?: string;
  tag?: string;
  comment?: string;
  author?: string;
  /** Dockerfile instructions applied to the new image's config. */
  changes?: string[];
  /** Freeze the container while its files are read (Docker's default). */
  pause?: boolean;
  /** Config fields that replace the container's (the request body). */
  config?: Partial<ContainerConfig>;
}

export async function commitContainer(engine: Engine, rec: ContainerRecord, opts: CommitOptions): Promise<string> {
  const images = await engine.images();
  const base = images.resolve(rec.Image);
  const limits = await engine.plugin("limits");
  const running = !!engine.rt(rec.Id).proc;
  const freeze = running && opts.pause !== false && !rec.State.Paused;
  const image = await engine.serialize(rec.Id, async () => {
    if (freeze) await limits.freeze(rec.Id);
    try {
      const diffId = await containerLayer(engine, rec);
      const now = new Date().toISOString();
      const config: ImageConfig = {
        ...base.config,
        created: now,
        author: opts.author ?? "",
        config: applyChanges(imageConfigOf({ ...rec.Config, ...opts.config }), opts.changes ?? []),
        rootfs: { type: "layers", diff_ids: [...base.config.rootfs.diff_ids, diffId] },
        history: [...(base.config.history ?? []), { created: now, created_by: [rec.Path, ...rec.Args].join(" "), comment: opts.comment ?? "" }],
      };
      const tag = opts.repo ? [`${opts.repo}${opts.tag ? `:${opts.tag}` : ""}`] : [];
      return addLayeredImage(images, base, config, diffId, tag);
    } finally {
      if (freeze) await limits.thaw(rec.Id);
    }
  });
  engine.emit("container", "commit", rec.Id, engine.containerAttributes(rec, { comment: opts.comment ?? "", imageID: image.id }));
  return image.id;
}

/**
 * The container's changes as a layer blob in the content store; returns its
 * diff ID. The changed files are read from the container's root filesystem
 * as the storage driver mounts it, with a whiteout for every deleted path.
 */
export async function containerLayer(engine: Engine, rec: ContainerRecord): Promise<string> {
  const images = await engine.images();
  const storage = await engine.storage(rec.Driver);
  const wasMounted = !!engine.rt(rec.Id).proc;
  try {
    const root = await storage.mount(rec.Id);
    const changes = withoutEngineFiles(await storage.changes(rec.Id));
    const keep = new Set(changes.filter((c) => c.Kind !== 2).map((c) => c.Path.slice(1)));
    const whiteouts = changes
      .filter((c) => c.Kind === 2)
      .map((c) => {
        const at = c.Path.lastIndexOf("/");
        return { name: `${c.Path.slice(1, at + 1)}.wh.${c.Path.slice(at + 1)}`, type: "file" as const, mode: 0o644, uid: 0, gid: 0, mtime: Math.floor(Date.now() / 1000), size: 0 };
      });
    async function* layer() {
      for await (const chunk of writeTar(whiteouts)) if (chunk !== TAR_END) yield chunk;
      yield* tarDirectory(root, { sys: libcSys, rename: (rel) => (keep.has(rel) ? rel : null), ids: containerIds(engine, rec)?.toContainer });
    }
    return (await images.blobs.ingest(layer())).digest;
  } finally {
    if (!wasMounted && !engine.rt(rec.Id).proc) await storage.unmount(rec.Id);
  }
}

/** Add the image `config` describes: `base`'s layers (none for scratch), plus the layer blob `diffId` when there is one. */
export async function addLayeredImage(images: ImageStore, base: ImageRecord | null, config: ImageConfig, diffId: string | null, tags: string[], parent?: string): Promise<ImageRecord> {
  const id = await images.blobs.put(JSON.stringify(config));
  const below = base ? chainIds(base.config.rootfs.diff_ids).map((c) => ({ blob: images.layerRow(c).blob, mediaType: images.layerRow(c).media_type })) : [];
  return images.addImage(id, config, diffId ? [...below, { blob: diffId, mediaType: LAYER_TAR }] : below, tags, parent);
}

/** The image config fields of a container's config. */
function imageConfigOf(c: Partial<ContainerConfig>): NonNullable<ImageConfig["config"]> {
  return {
    User: c.User || undefined,
    ExposedPorts: c.ExposedPorts && Object.keys(c.ExposedPorts).length ? c.ExposedPorts : undefined,
    Env: c.Env,
    Entrypoint: c.Entrypoint ?? null,
    Cmd: c.Cmd ?? null,
    Volumes: c.Volumes && Object.keys(c.Volumes).length ? c.Volumes : null,
    WorkingDir: c.WorkingDir || undefined,
    Labels: c.Labels ?? null,
    StopSignal: c.StopSignal,
    Healthcheck: c.Healthcheck,
  };
}
