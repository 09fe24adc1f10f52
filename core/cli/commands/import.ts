// berth import: a root filesystem tarball (file, URL or -) becomes an image.
import { existsSync } from "node:fs";
import { invalidArgument, notFound } from "../../errors.ts";
import { familiarRepository, parseReference } from "../../images/reference.ts";
import type { CommandDef } from "../args.ts";
import { connect } from "../connect.ts";
import { print } from "../output.ts";

export const command: CommandDef = {
  name: "import",
  usage: "import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
  summary: "Import the contents from a tarball to create a filesystem image",
  flags: [
    { name: "change", short: "c", kind: "list", help: "Apply Dockerfile instruction to the created image (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR)" },
    { name: "message", short: "m", kind: "string", help: "Set commit message for imported image" },
    { name: "platform", kind: "string", help: "Set platform (only linux/amd64)" },
  ],
  minArgs: 1,
  maxArgs: 2,
  details: "The tarball may be plain, gzip- or zstd-compressed.",
  async run({ flags, args, global }) {
    const [source, ref] = args as [string, string?];
    const platform = flags.string("platform");
    if (platform && platform !== "linux/amd64" && platform !== "linux") throw invalidArgument(`platform "${platform}" is not supported: berth runs linux/amd64 images`);
    const target = ref ? parseReference(ref) : undefined; // a bad name fails before anything is sent
    let body: RequestInit["body"];
    if (source === "-") body = Bun.stdin as unknown as RequestInit["body"];
    else if (/^https?:\/\//.test(source)) {
      const res = await fetch(source);
      if (!res.ok || !res.body) throw notFound(`fetching ${source}: HTTP ${res.status}`);
      body = res.body;
    } else {
      if (!existsSync(source)) throw notFound(`open ${source}: no such file or directory`);
      body = Bun.file(source);
    }
    const client = await connect(global);
    const res = await client.call("POST", "/images/create", {
      query: { fromSrc: "-", repo: target ? familiarRepository(target) : undefined, tag: target?.tag, changes: flags.list("change"), message: flags.string("message") },
      body,
      headers: { "Content-Type": "application/x-tar" },
    });
    const status = JSON.parse((await res.text()).trim().split("\n").pop()!).status as string;
    print(`${status}\n`);
    return 0;
  },
};
