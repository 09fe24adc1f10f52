// berth import: a root filesystem tarball (file, URL or -) becomes an image.
import { existsSync } from "node:fs";
import { invalidArgument, notFound } from "../../errors.ts";
import type { CommandDef } from "../args.ts";
import { openEngine } from "../engine.ts";
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
    let stream: AsyncIterable<Uint8Array>;
    if (source === "-") stream = Bun.stdin.stream() as unknown as AsyncIterable<Uint8Array>;
    else if (/^https?:\/\//.test(source)) {
      const res = await fetch(source);
      if (!res.ok || !res.body) throw notFound(`fetching ${source}: HTTP ${res.status}`);
      stream = res.body as unknown as AsyncIterable<Uint8Array>;
    } else {
      if (!existsSync(source)) throw notFound(`open ${source}: no such file or directory`);
      stream = Bun.file(source).stream() as unknown as AsyncIterable<Uint8Array>;
    }
    const engine = openEngine(global);
    const images = await engine.images();
    const image = await images.import(stream, { ref, changes: flags.list("change"), message: flags.string("message"), source });
    print(`${image.id}\n`);
    return 0;
  },
};
