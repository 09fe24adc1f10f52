// Create a container: merge the request with its image's config, check
// it, record it, and prepare its writable layer. Nothing runs yet.
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { randomHex } from "../ids.ts";
import { conflict, invalidArgument } from "../errors.ts";
import type { Engine } from "./engine.ts";
import { randomName } from "./names.ts";
import { parseBinds, parseTmpfs } from "./mounts.ts";
import { newState, type ContainerConfig, type ContainerRecord, type CreateRequest } from "./types.ts";

const NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export async function createContainer(engine: Engine, req: CreateRequest, name?: string): Promise<{ id: string; warnings: string[] }> {
  if (!req.Image) throw invalidArgument("no image given", "usage: berth run [OPTIONS] IMAGE [COMMAND] [ARG...]");
  const images = await engine.images();
  const image = images.resolve(req.Image);
  const host = req.HostConfig ?? {};

  const networkMode = host.NetworkMode || engine.pluginName("network") || "none";
  const network = await engine.plugin("network", networkMode === "default" ? undefined : networkMode);
  void network; // resolving it now rejects an unknown network mode at create time, as Docker does

  const img = image.config.config ?? {};
  const entrypoint = req.Entrypoint !== undefined && req.Entrypoint !== null ? req.Entrypoint : (img.Entrypoint ?? null);
  // An overridden entrypoint drops the image's CMD, as in Docker.
  const cmd = req.Cmd && req.Cmd.length > 0 ? req.Cmd : req.Entrypoint != null ? [] : (img.Cmd ?? []);
  const args = [...(entrypoint ?? []), ...cmd];
  if (args.length === 0) throw invalidArgument("no command specified", `give a command after the image name, or import the image with --change 'CMD [...]'`);

  const config: ContainerConfig = {
    ...req,
    Image: req.Image,
    Hostname: req.Hostname || undefined,
    User: req.User ?? img.User ?? "",
    Env: mergeEnv(img.Env ?? [], req.Env ?? []),
    Cmd: cmd,
    Entrypoint: entrypoint,
    WorkingDir: req.WorkingDir || img.WorkingDir || "",
    Labels: { ...(img.Labels ?? {}), ...(req.Labels ?? {}) },
    StopSignal: req.StopSignal ?? img.StopSignal,
    ExposedPorts: { ...(img.ExposedPorts ?? {}), ...(req.ExposedPorts ?? {}) },
  };
  delete (config as CreateRequest).HostConfig;
  if (config.WorkingDir && !config.WorkingDir.startsWith("/")) {
    throw invalidArgument(`the working directory '${config.WorkingDir}' is invalid, it needs to be an absolute path`);
  }

  const mounts = parseBinds(host.Binds ?? []);
  const seen = new Set<string>();
  for (const m of [...mounts.map((b) => ({ destination: b.Destination })), ...parseTmpfs(host.Tmpfs ?? {})]) {
    if (seen.has(m.destination)) throw invalidArgument(`Duplicate mount point: ${m.destination}`);
    seen.add(m.destination);
  }
  // -v creates a missing host directory, as Docker does.
  for (const m of mounts) if (m.Type === "bind" && !existsSync(m.Source)) mkdirSync(m.Source, { recursive: true });

  const id = randomHex(32);
  const finalName = name ? `/${name.replace(/^\//, "")}` : undefined;
  if (finalName && !NAME.test(finalName)) {
    throw invalidArgument(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  }
  const storageName = engine.pluginName("storage")!;
  const record: ContainerRecord = {
    Id: id,
    Name: finalName ?? "",
    Created: new Date().toISOString(),
    Image: image.id,
    Path: args[0]!,
    Args: args.slice(1),
    Config: config,
    HostConfig: { ...host, NetworkMode: networkMode },
    State: newState(),
    Mounts: mounts,
    Driver: storageName,
  };
  insertWithName(engine, record, !finalName);

  try {
    const top = await images.ensureUnpacked(image);
    const storage = await engine.storage(storageName);
    await storage.createWritable(id, top);
    mkdirSync(engine.containerDir(id), { mode: 0o710 });
  } catch (err) {
    const storage = await engine.storage(storageName);
    await storage.removeWritable(id).catch(() => {});
    rmSync(engine.containerDir(id), { recursive: true, force: true });
    engine.db.deleteContainer(id);
    throw err;
  }
  return { id, warnings: [] };
}

function insertWithName(engine: Engine, record: ContainerRecord, generated: boolean) {
  for (let attempt = 0; ; attempt++) {
    if (generated) record.Name = `/${randomName(attempt)}`;
    try {
      engine.db.insertContainer(record);
      return;
    } catch (err) {
      if (!/UNIQUE constraint failed: containers.name/.test(String(err))) throw err;
      if (!generated || attempt > 10) {
        const other = engine.db.getContainerByName(record.Name);
        throw conflict(
          `Conflict. The container name "${record.Name}" is already in use by container "${other?.Id ?? "?"}". You have to remove (or rename) that container to be able to reuse that name.`,
        );
      }
    }
  }
}

/** Image env first, the request's entries replacing those with the same key. */
export function mergeEnv(base: string[], extra: string[]): string[] {
  const out = new Map<string, string>();
  for (const e of [...base, ...extra]) {
    const eq = e.indexOf("=");
    out.set(eq < 0 ? e : e.slice(0, eq), e);
  }
  return [...out.values()];
}

