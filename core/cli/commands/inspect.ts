// berth inspect: Docker-shaped JSON for containers, images and volumes.
import { isKind } from "../../errors.ts";
import type { CommandDef } from "../args.ts";
import type { Client } from "../client.ts";
import { connect } from "../connect.ts";
import { enc } from "../each.ts";
import { print } from "../output.ts";
import { reportError } from "../report.ts";
import { renderTemplate } from "../template.ts";
import { BerthError } from "../../errors.ts";

export const command: CommandDef = inspectCommand();

/** `inspect`, or with `type` the inspect of one kind of object (`image inspect`, `container inspect`). */
export function inspectCommand(type?: "container" | "image"): CommandDef {
  const format = { name: "format", short: "f", kind: "string", help: "Format output using a Go template, e.g. '{{.State.ExitCode}}'" } as const;
  return {
    name: "inspect",
    usage: `${type ? `${type} ` : ""}inspect [OPTIONS] ${type ? type.toUpperCase() : "NAME|ID"} [${type ? type.toUpperCase() : "NAME|ID"}...]`,
    summary: type ? `Display detailed information on one or more ${type}s` : "Return low-level information on containers, images or volumes",
    flags: type ? [format] : [format, { name: "type", kind: "string", help: "Only inspect objects of this type: container, image or volume" }],
    minArgs: 1,
    run: (ctx) => inspect(ctx, type ?? ctx.flags.string("type")),
  };
}

async function inspect({ flags, args, global }: Parameters<CommandDef["run"]>[0], type: string | undefined): Promise<number> {
    const client = await connect(global);
    const found: unknown[] = [];
    let failed = false;
    for (const ref of args) {
      try {
        found.push(await lookup(client, ref, type));
      } catch (err) {
        reportError(err);
        failed = true;
      }
    }
    const format = flags.string("format");
    if (format) print(found.map((o) => `${renderTemplate(format, o)}\n`).join(""));
    else print(`${JSON.stringify(found, null, 4)}\n`);
    return failed ? 1 : 0;
}

const PATHS: Record<string, (ref: string) => string> = {
  container: (r) => `/containers/${enc(r)}/json`,
  image: (r) => `/images/${r}/json`,
  volume: (r) => `/volumes/${enc(r)}`,
};

async function lookup(client: Client, ref: string, type: string | undefined) {
  for (const kind of type ? [type] : ["container", "image", "volume"]) {
    const path = PATHS[kind];
    if (!path) throw new BerthError("InvalidArgument", `"${type}" is not a valid value for --type`);
    try {
      return await client.json("GET", path(ref));
    } catch (err) {
      if (!isKind(err, "NotFound") && !isKind(err, "InvalidArgument")) throw err;
      if (type) throw err;
    }
  }
  throw new BerthError("NotFound", `No such object: ${ref}`);
}
