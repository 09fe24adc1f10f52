// berth cp: files between a container and here, with docker cp's rules:
// into an existing directory under the source's name, to a new name
// otherwise, a directory's content with "SRC/.", and "-" for a tar stream.
import { lstatSync, mkdtempSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { BerthError, invalidArgument, notFound } from "../../errors.ts";
import { putArchive } from "../../engine/archive.ts";
import { tarDirectory } from "../../images/tar-writer.ts";
import { libcSys } from "../../sys/libc.ts";
import type { CommandDef } from "../args.ts";
import type { Client } from "../client.ts";
import { connect } from "../connect.ts";
import { enc } from "../each.ts";
import { print } from "../output.ts";

export const command: CommandDef = {
  name: "cp",
  usage: "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
  summary: "Copy files/folders between a container and the local filesystem",
  flags: [
    { name: "archive", short: "a", kind: "bool", help: "Archive mode (copy all uid/gid information)" },
    { name: "follow-link", short: "L", kind: "bool", help: "Always follow symbol link in SRC_PATH" },
    { name: "quiet", short: "q", kind: "bool", help: "Suppress progress output during copy" },
  ],
  minArgs: 2,
  maxArgs: 2,
  async run({ flags, args, global }) {
    const [src, dst] = args.map(splitArg) as [CpArg, CpArg];
    if (src.container && dst.container) throw invalidArgument("copying between containers is not supported");
    if (!src.container && !dst.container) throw invalidArgument("must specify at least one container source");
    const client = await connect(global);
    if (src.container) await fromContainer(client, src.container, src.path, dst.path);
    else await toContainer(client, src.path, dst.container!, dst.path, flags.bool("archive"), flags.bool("follow-link"));
    return 0;
  },
};

interface CpArg {
  container?: string;
  path: string;
}

/** docker's rule: absolute or "."-led paths are local; "name:path" names a container. */
function splitArg(arg: string): CpArg {
  if (arg.startsWith("/") || arg.startsWith(".")) return { path: arg };
  const colon = arg.indexOf(":");
  if (colon <= 0) return { path: arg };
  return { container: arg.slice(0, colon), path: arg.slice(colon + 1) };
}

async function fromContainer(client: Client, container: string, src: string, dst: string) {
  const res = await client.call("GET", `/containers/${enc(container)}/archive`, { query: { path: src } });
  const stat = JSON.parse(Buffer.from(res.headers.get("x-docker-container-path-stat") ?? "e30=", "base64").toString()) as { name: string; mode: number };
  const tar = res.body as unknown as AsyncIterable<Uint8Array>;
  if (dst === "-") {
    for await (const chunk of tar) print(chunk);
    return;
  }
  const srcIsDir = (stat.mode & 2 ** 31) !== 0;
  const target = resolve(dst);
  const existing = statOr(target);
  const put = (dir: string) => putArchive(dir, "/", tar, { noOverwriteDirNonDir: true, copyUIDGID: false, sys: libcSys });
  if (existing?.isDirectory()) return void (await put(target));
  if (existing && srcIsDir) throw invalidArgument(`cannot copy a directory to a file: ${dst}`);
  if (!existing && dst.endsWith("/")) throw notFound(`destination directory ${dst} does not exist`);
  const parent = dirname(target);
  if (!statOr(parent)?.isDirectory()) throw notFound(`destination ${parent} does not exist`);
  // Unpack next to the target, then give it the target's name.
  const tmp = mkdtempSync(`${parent}/.berth-cp-`);
  try {
    await put(tmp);
    const srcBase = src.endsWith("/.") ? "." : stat.name;
    renameSync(`${tmp}/${srcBase}`, target);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function toContainer(client: Client, src: string, container: string, dst: string, archive: boolean, followLink: boolean) {
  const path = `/containers/${enc(container)}/archive`;
  if (src === "-") {
    await client.call("PUT", path, { query: { path: dst, noOverwriteDirNonDir: 1, copyUIDGID: archive }, body: Bun.stdin as unknown as RequestInit["body"] });
    return;
  }
  const local = followLink ? resolve(src) : resolve(src);
  let info;
  try {
    info = followLink ? statSync(local) : lstatSync(local);
  } catch {
    throw notFound(`could not find the file ${src}: no such file or directory`);
  }
  // Where does it go: into an existing directory, or as a new name?
  let dstDir = dst;
  let base: string;
  const dstStat = await statInContainer(client, container, dst);
  if (dstStat?.isDir) base = src.endsWith("/.") ? "." : basename(local);
  else {
    if (dstStat && info.isDirectory()) throw invalidArgument(`cannot copy a directory to a file: ${dst}`);
    if (!dstStat && dst.endsWith("/")) throw notFound(`destination directory ${dst} does not exist in ${container}`);
    dstDir = dirname(dst.replace(/\/+$/, "")) || "/";
    base = basename(dst.replace(/\/+$/, ""));
  }
  const tar = tarDirectory(local, { sys: libcSys, rename: (rel) => (rel === "" ? base : base === "." ? rel : `${base}/${rel}`) });
  const body = new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      const { value, done } = await tar.next();
      if (done) ctrl.close();
      else ctrl.enqueue(value);
    },
  });
  await client.call("PUT", path, { query: { path: dstDir, noOverwriteDirNonDir: 1, copyUIDGID: archive }, body, headers: { "Content-Type": "application/x-tar" } });
}

async function statInContainer(client: Client, container: string, path: string): Promise<{ isDir: boolean } | undefined> {
  try {
    const res = await client.call("HEAD", `/containers/${enc(container)}/archive`, { query: { path } });
    const stat = JSON.parse(Buffer.from(res.headers.get("x-docker-container-path-stat") ?? "e30=", "base64").toString()) as { mode: number };
    return { isDir: (stat.mode & 2 ** 31) !== 0 };
  } catch (err) {
    if (err instanceof BerthError && err.kind === "NotFound") return undefined;
    throw err;
  }
}

function statOr(path: string) {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}
