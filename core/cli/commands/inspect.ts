// berth inspect: Docker-shaped JSON for containers and images.
import { isKind } from "../../errors.ts";
import type { Engine } from "../../engine/engine.ts";
import type { ContainerRecord, ImageRecord } from "../../engine/types.ts";
import type { CommandDef } from "../args.ts";
import { openEngine } from "../engine.ts";
import { reportError } from "../report.ts";
import { renderTemplate } from "../template.ts";
import { print } from "../output.ts";

export const command: CommandDef = {
  name: "inspect",
  usage: "inspect [OPTIONS] NAME|ID [NAME|ID...]",
  summary: "Return low-level information on containers or images",
  flags: [
    { name: "format", short: "f", kind: "string", help: "Format output using a Go template, e.g. '{{.State.ExitCode}}'" },
    { name: "type", kind: "string", help: "Only inspect objects of this type: container or image" },
  ],
  minArgs: 1,
  async run({ flags, args, global }) {
    const engine = openEngine(global);
    const type = flags.string("type");
    const found: unknown[] = [];
    let failed = false;
    for (const ref of args) {
      try {
        found.push(await lookup(engine, ref, type));
      } catch (err) {
        reportError(err);
        failed = true;
      }
    }
    const format = flags.string("format");
    if (format) print(found.map((o) => `${renderTemplate(format, o)}\n`).join(""));
    else print(`${JSON.stringify(found, null, 4)}\n`);
    return failed ? 1 : 0;
  },
};

async function lookup(engine: Engine, ref: string, type: string | undefined) {
  if (type !== "image") {
    try {
      await engine.list(); // notice containers that ended unwatched
      return containerJSON(engine, engine.container(ref));
    } catch (err) {
      if (type === "container" || !isKind(err, "NotFound")) throw err;
    }
  }
  const images = await engine.images();
  try {
    return imageJSON(images.resolve(ref), images.tagsOf(images.resolve(ref).id), engine.pluginName("storage") ?? "");
  } catch (err) {
    if (isKind(err, "NotFound") && type !== "image") throw Object.assign(err, { message: `No such object: ${ref}` });
    throw err;
  }
}

export function containerJSON(engine: Engine, c: ContainerRecord) {
  const dir = engine.containerDir(c.Id);
  return {
    Id: c.Id,
    Created: c.Created,
    Path: c.Path,
    Args: c.Args,
    State: c.State,
    Image: c.Image,
    ResolvConfPath: `${dir}/resolv.conf`,
    HostnamePath: `${dir}/hostname`,
    HostsPath: `${dir}/hosts`,
    LogPath: "",
    Name: c.Name,
    RestartCount: 0,
    Driver: c.Driver,
    Platform: "linux",
    MountLabel: "",
    ProcessLabel: "",
    AppArmorProfile: "",
    ExecIDs: null,
    HostConfig: c.HostConfig,
    Mounts: c.Mounts,
    Config: c.Config,
    NetworkSettings: { Networks: { [c.HostConfig.NetworkMode ?? "none"]: {} } },
  };
}

export function imageJSON(img: ImageRecord, tags: string[], driver: string) {
  const history = img.config.history ?? [];
  return {
    Id: img.id,
    RepoTags: tags,
    RepoDigests: [],
    Parent: "",
    Comment: history[history.length - 1]?.comment ?? "",
    Created: img.created,
    Author: img.config.author ?? "",
    Config: img.config.config ?? {},
    Architecture: img.config.architecture,
    Os: img.config.os,
    Size: img.size,
    VirtualSize: img.size,
    GraphDriver: { Name: driver, Data: null },
    RootFS: { Type: "layers", Layers: img.config.rootfs.diff_ids },
    Metadata: { LastTagTime: "0001-01-01T00:00:00Z" },
  };
}
