// --userns-remap: which subordinate ids root in a container is on the host,
// with Docker's meanings of the flag's value:
//   default          the user and group berthremap (Docker's dockremap), added
//                    with a subordinate range of 65536 ids when missing
//   USER[:GROUP]     a user (and group) of /etc/passwd (/etc/group)
//   UID[:GID]        numeric ids (the gid defaults to the uid)
// The ranges come from /etc/subuid and /etc/subgid, entries for the user's
// name or uid (subuid(5) allows both), and are mapped one after the other
// from id 0 up, as Docker maps them.
import { appendFileSync, readFileSync } from "node:fs";
import { failedPrecondition, invalidArgument } from "../errors.ts";

export const DEFAULT_REMAP_USER = "berthremap";
/** Docker's size and first id of the range it gives its default user. */
const DEFAULT_RANGE = 65536;
const FIRST_SUBID = 100000;

export interface IdRange {
  /** First id inside the namespace. */
  container: number;
  /** First id on the host. */
  host: number;
  size: number;
}

export interface Remap {
  user: string;
  group: string;
  uids: IdRange[];
  gids: IdRange[];
}

interface Entry { name: string; id: number }

export interface ResolveOptions {
  /** Where passwd, group, subuid and subgid are (tests use a directory of their own). */
  etc?: string;
  /** Adds the default user and its group; default: useradd. */
  addUser?: (name: string) => void;
}

/** Resolve a --userns-remap value; throws invalidArgument/failedPrecondition saying what is missing. */
export function resolveRemap(value: string, opts: ResolveOptions = {}): Remap {
  const etc = opts.etc ?? "/etc";
  const parts = value.split(":");
  if (value === "" || parts.length > 2 || parts.some((p) => p === "")) {
    throw invalidArgument(`invalid user/group specification in --userns-remap: "${value}"`, "use default, USER, USER:GROUP or UID:GID");
  }
  const passwd = () => readEntries(`${etc}/passwd`);
  const groups = () => readEntries(`${etc}/group`);
  let user: Entry | undefined;
  let group: Entry | undefined;
  if (value === "default") {
    if (!passwd().some((u) => u.name === DEFAULT_REMAP_USER)) (opts.addUser ?? addSystemUser)(DEFAULT_REMAP_USER);
    user = passwd().find((u) => u.name === DEFAULT_REMAP_USER);
    group = groups().find((g) => g.name === DEFAULT_REMAP_USER);
    if (!user || !group) throw failedPrecondition(`could not add the user and group ${DEFAULT_REMAP_USER} for --userns-remap=default`);
    for (const f of ["subuid", "subgid"]) ensureRange(`${etc}/${f}`, user);
  } else {
    const [u, g] = parts as [string, string | undefined];
    user = lookup(passwd(), u, "user", "/etc/passwd");
    // Without a group: the user's name as a group name, or the uid as the gid, as in Docker.
    group = lookup(groups(), g ?? u, "group", "/etc/group");
  }
  const uids = rangesOf(`${etc}/subuid`, user, "user");
  const gids = rangesOf(`${etc}/subgid`, group, "group");
  return { user: user.name, group: group.name, uids, gids };
}

/** A name must exist; a number stands for itself (its name when it has one). */
function lookup(entries: Entry[], spec: string, what: string, file: string): Entry {
  if (/^\d+$/.test(spec)) {
    const id = Number(spec);
    return entries.find((e) => e.id === id) ?? { name: spec, id };
  }
  const e = entries.find((x) => x.name === spec);
  if (!e) throw invalidArgument(`--userns-remap: no ${what} "${spec}" in ${file}`, `add the ${what}, or give a numeric id`);
  return e;
}

function readEntries(path: string): Entry[] {
  return readOr(path).split("\n").flatMap((line) => {
    const f = line.split(":");
    return f.length >= 3 && !line.startsWith("#") && /^\d+$/.test(f[2]!) ? [{ name: f[0]!, id: Number(f[2]) }] : [];
  });
}

interface SubEntry { owner: string; start: number; size: number }

function readSub(path: string): SubEntry[] {
  return readOr(path).split("\n").flatMap((line) => {
    const m = /^([^:#\s]+):(\d+):(\d+)\s*$/.exec(line);
    return m ? [{ owner: m[1]!, start: Number(m[2]), size: Number(m[3]) }] : [];
  });
}

/** The owner's ranges in order, mapped from 0 up. */
function rangesOf(path: string, owner: Entry, what: string): IdRange[] {
  const mine = readSub(path).filter((e) => e.owner === owner.name || e.owner === String(owner.id)).sort((a, b) => a.start - b.start);
  if (mine.length === 0) {
    const file = path.split("/").pop();
    throw failedPrecondition(`--userns-remap: no subordinate ${what} ids for "${owner.name}" in ${path}`, `add a line such as ${owner.name}:${FIRST_SUBID}:${DEFAULT_RANGE} to /etc/${file}`);
  }
  const out: IdRange[] = [];
  let next = 0;
  for (const e of mine) {
    if (e.size <= 0) continue;
    out.push({ container: next, host: e.start, size: e.size });
    next += e.size;
  }
  return out;
}

/** Give the default user a range if it has none: the first 65536 ids from 100000 on that nobody has, as Docker does. */
function ensureRange(path: string, owner: Entry) {
  const all = readSub(path);
  if (all.some((e) => e.owner === owner.name || e.owner === String(owner.id))) return;
  let start = FIRST_SUBID;
  for (const e of [...all].sort((a, b) => a.start - b.start)) {
    if (start + DEFAULT_RANGE <= e.start) break;
    start = Math.max(start, e.start + e.size);
  }
  const text = readOr(path);
  appendFileSync(path, `${text && !text.endsWith("\n") ? "\n" : ""}${owner.name}:${start}:${DEFAULT_RANGE}\n`, { mode: 0o644 });
}

function addSystemUser(name: string) {
  const p = Bun.spawnSync(["useradd", "--system", "--shell", "/bin/false", "--no-create-home", "--user-group", name], { stderr: "pipe" });
  if (p.exitCode !== 0) throw failedPrecondition(`could not add the user ${name}: ${p.stderr.toString().trim()}`, "add it with useradd, or give --userns-remap an existing user");
}

/** Host id of a container id, or undefined when it is not mapped. */
export function toHost(ranges: IdRange[], id: number): number | undefined {
  const r = ranges.find((x) => id >= x.container && id < x.container + x.size);
  return r ? r.host + (id - r.container) : undefined;
}

/** Container id of a host id; ids outside the ranges stay as they are. */
export function fromHost(ranges: IdRange[], id: number): number {
  const r = ranges.find((x) => id >= x.host && id < x.host + x.size);
  return r ? r.container + (id - r.host) : id;
}

/** An owner mapping of files: (uid, gid) to (uid, gid). */
export type IdsMap = (uid: number, gid: number) => [number, number];

/** A remapped container's files as its root sees them, and back (an id it cannot have is its nobody, 65534). */
export function idMaps(r: Pick<Remap, "uids" | "gids">): { toContainer: IdsMap; toHost: IdsMap } {
  const host = (ranges: IdRange[], id: number) => toHost(ranges, id) ?? toHost(ranges, 65534) ?? id;
  return {
    toContainer: (uid, gid) => [fromHost(r.uids, uid), fromHost(r.gids, gid)],
    toHost: (uid, gid) => [host(r.uids, uid), host(r.gids, gid)],
  };
}

/** The ranges as /proc/PID/uid_map takes them. */
export function mapText(ranges: IdRange[]): string {
  return ranges.map((r) => `${r.container} ${r.host} ${r.size}`).join("\n");
}

/** "100000:65536" for `berth info`, ranges joined by commas. */
export function describeRanges(ranges: IdRange[]): string {
  return ranges.map((r) => `${r.host}:${r.size}`).join(",");
}

function readOr(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}
