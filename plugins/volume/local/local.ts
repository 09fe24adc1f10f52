// The `local` volume driver, laid out and behaving as Docker's:
//
//   <dir>/<name>/              the volume (0701)
//   <dir>/<name>/_data/        its data (0755): what containers bind
//   <dir>/<name>/opts.json     options {type, device, o}, when given
//   <dir>/<name>/users/<user>  one file per user (container) holding it mounted
//
// Without options a volume is a plain directory. With `type`, `device` and
// `o` (`-o type=tmpfs -o device=tmpfs -o o=size=64m`, or
// `type=none,device=/srv,o=bind`) that filesystem is mounted on `_data` at
// the first mount() and unmounted when the last user unmounts. Users are
// kept on disk with the boot they were recorded in, so a restarted daemon
// sees the same state and a reboot (which drops every mount) leaves no
// stale user behind.
import {
  chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, unlinkSync,
  writeFileSync,
} from "node:fs";
import type { VolumeDriver } from "../../../core/contracts/volume.ts";
import { BerthError, conflict, errnoCode, invalidArgument, notFound, SysError } from "../../../core/errors.ts";
import { parseMountinfo } from "../../../core/host.ts";
import { MNT_DETACH, MS, type Sys } from "../../../core/sys/index.ts";
import { parseMountOptions } from "../../isolation/namespaces/setup.ts";
import { buildAtomically, tempName } from "../../storage/fsutil.ts";

/** Docker's names.RestrictedNamePattern, and how Docker shows it. */
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const NAME_CHARS = "[a-zA-Z0-9][a-zA-Z0-9_.-]";
/** A user is a container ID (or name): something safe as a file name. */
const USER = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** The options the local driver takes, and which others each one needs (Docker's mandatoryOpts). */
const VALID_OPTIONS = ["type", "device", "o"];
const REQUIRES: Record<string, string[]> = { type: ["device"], device: ["type"], o: ["device", "type"] };

export interface LocalVolumeOptions {
  type?: string;
  device?: string;
  o?: string;
}

/** Docker's name check for local volumes (InvalidArgument with Docker's wording). */
export function validateVolumeName(name: string) {
  if (name.length === 1) {
    throw invalidArgument("volume name is too short, names should be at least two alphanumeric characters");
  }
  if (!NAME.test(name)) {
    throw invalidArgument(
      `${JSON.stringify(name)} includes invalid characters for a local volume name, only ${JSON.stringify(NAME_CHARS)} are allowed. If you intended to pass a host directory, use absolute path`,
    );
  }
}

/** Docker's option checks for local volumes; returns what is stored. */
export function validateVolumeOptions(options: Record<string, string>): LocalVolumeOptions | null {
  const keys = Object.keys(options);
  if (keys.length === 0) return null;
  for (const k of keys) {
    if (k === "size") throw invalidArgument("quota size requested but no quota support");
    if (!VALID_OPTIONS.includes(k)) {
      throw invalidArgument(`invalid option: ${JSON.stringify(k)}`, `the local driver takes ${VALID_OPTIONS.join(", ")}`);
    }
  }
  for (const k of keys) {
    for (const req of REQUIRES[k] ?? []) {
      if (!options[req]) throw invalidArgument(`missing required option: ${JSON.stringify(req)}`);
    }
  }
  const { flags } = parseMountOptions(splitOptions(options.o));
  if (flags & MS.BIND) {
    const device = options.device!;
    if (!device.startsWith("/")) throw invalidArgument(`invalid bind mount source ${JSON.stringify(device)}: not an absolute path`);
    try {
      statSync(device);
    } catch (err) {
      throw invalidArgument(`invalid bind mount source ${JSON.stringify(device)}: ${errnoCode(err) === "ENOENT" ? "no such file or directory" : String(err)}`);
    }
  }
  return { type: options.type, device: options.device, o: options.o };
}

const splitOptions = (o: string | undefined) => (o ? o.split(",").filter(Boolean) : []);

export class LocalVolumeDriver implements VolumeDriver {
  constructor(
    private readonly dir: string,
    private readonly sys: Sys,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o701 });
  }

  async create(name: string, options: Record<string, string>) {
    validateVolumeName(name);
    const opts = validateVolumeOptions(options);
    const vol = this.volumeDir(name);
    if (existsSync(`${vol}/_data`)) return; // keep the original, options included
    await buildAtomically(this.dir, vol, async (tmp) => {
      mkdirSync(`${tmp}/_data`, { recursive: true });
      chmodSync(tmp, 0o701);
      chmodSync(`${tmp}/_data`, 0o755);
      if (opts) writeFileSync(`${tmp}/opts.json`, `${JSON.stringify(opts)}\n`, { mode: 0o600 });
    });
  }

  async remove(name: string) {
    validateVolumeName(name);
    const vol = this.volumeDir(name);
    if (!existsSync(vol)) return;
    const users = this.liveUsers(name);
    if (users.length > 0) {
      throw conflict(`remove ${name}: volume is in use - [${users.join(", ")}]`, "remove the containers using it first");
    }
    // Never delete through a mount: a bind volume's files belong to the host.
    this.release(name);
    // Out of sight first, so that list() never shows a half-deleted volume.
    const doomed = tempName(this.dir);
    try {
      renameSync(vol, doomed);
    } catch (err) {
      if (errnoCode(err) === "ENOENT") return;
      throw err;
    }
    rmSync(doomed, { recursive: true, force: true });
  }

  async mount(name: string, user: string): Promise<string> {
    validateVolumeName(name);
    validateUser(user);
    const data = this.path(name);
    if (!existsSync(data)) throw notFound(`no such volume: ${name}`);
    const opts = this.options(name);
    if (opts && !this.isMounted(data)) this.mountFs(name, opts, data);
    mkdirSync(`${this.volumeDir(name)}/users`, { recursive: true, mode: 0o700 });
    try {
      writeFileSync(`${this.volumeDir(name)}/users/${user}`, bootId());
    } catch (err) {
      if (opts && this.liveUsers(name).length === 0) this.release(name);
      throw err;
    }
    return data;
  }

  async unmount(name: string, user: string) {
    validateVolumeName(name);
    validateUser(user);
    try {
      unlinkSync(`${this.volumeDir(name)}/users/${user}`);
    } catch (err) {
      if (errnoCode(err) !== "ENOENT") throw err;
    }
    if (this.liveUsers(name).length === 0) this.release(name);
  }

  path(name: string): string {
    validateVolumeName(name);
    return `${this.volumeDir(name)}/_data`;
  }

  list(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch (err) {
      if (errnoCode(err) === "ENOENT") return [];
      throw err;
    }
    return names.filter((n) => NAME.test(n) && isDirectory(`${this.dir}/${n}/_data`)).sort();
  }

  /** The users holding `name` mounted in this boot; those of an earlier boot are forgotten. */
  liveUsers(name: string): string[] {
    const dir = `${this.volumeDir(name)}/users`;
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (err) {
      if (errnoCode(err) === "ENOENT" || errnoCode(err) === "ENOTDIR") return [];
      throw err;
    }
    const boot = bootId();
    const live: string[] = [];
    for (const u of names.sort()) {
      let recorded: string;
      try {
        recorded = readFileSync(`${dir}/${u}`, "utf8");
      } catch (err) {
        if (errnoCode(err) === "ENOENT") continue;
        throw err;
      }
      if (recorded === boot) live.push(u);
      else rmSync(`${dir}/${u}`, { force: true });
    }
    return live;
  }

  private volumeDir(name: string) {
    return `${this.dir}/${name}`;
  }

  private options(name: string): LocalVolumeOptions | null {
    try {
      return JSON.parse(readFileSync(`${this.volumeDir(name)}/opts.json`, "utf8")) as LocalVolumeOptions;
    } catch (err) {
      if (errnoCode(err) === "ENOENT") return null;
      throw err;
    }
  }

  private mountFs(name: string, opts: LocalVolumeOptions, data: string) {
    const { flags, propagation, data: fsData } = parseMountOptions(splitOptions(opts.o));
    try {
      if (flags & MS.BIND) {
        this.sys.mount(opts.device!, data, null, MS.BIND | (flags & MS.REC));
        const extra = flags & ~(MS.BIND | MS.REC);
        if (extra) this.sys.mount(null, data, null, MS.BIND | MS.REMOUNT | extra);
      } else {
        this.sys.mount(opts.device!, data, opts.type!, flags, fsData || null);
      }
      if (propagation) this.sys.mount(null, data, null, propagation);
    } catch (err) {
      if (this.isMounted(data)) this.unmountAll(data);
      const msg = err instanceof Error ? err.message : String(err);
      throw new BerthError(err instanceof BerthError ? err.kind : "Internal", `volume ${name}: failed to mount local volume: ${msg}`);
    }
  }

  /** Unmount `_data` if something is mounted there; refuse to go on if it stays mounted. */
  private release(name: string) {
    const data = this.path(name);
    if (existsSync(data) && this.isMounted(data)) this.unmountAll(data);
  }

  private unmountAll(path: string) {
    for (let i = 0; i < 16 && this.isMounted(path); i++) {
      try {
        this.sys.umount(path);
      } catch (err) {
        if (err instanceof SysError && err.code === "EINVAL") continue; // raced: not mounted any more
        if (err instanceof SysError && err.code === "EBUSY") this.sys.umount(path, MNT_DETACH);
        else throw err;
      }
    }
    if (this.isMounted(path)) throw conflict(`${path} is still mounted`);
  }

  /** Is something mounted on `path`? From mountinfo: a bind from the same filesystem keeps st_dev. */
  private isMounted(path: string): boolean {
    const real = realpathSync(path);
    return parseMountinfo(readFileSync("/proc/self/mountinfo", "utf8")).some((m) => m.mountpoint === real);
  }
}

function validateUser(user: string) {
  if (!USER.test(user)) throw invalidArgument(`invalid volume user ${JSON.stringify(user)}: expected a container ID`);
}

function isDirectory(p: string) {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

let boot: string | undefined;
/** This boot's ID: users recorded in another boot hold no mount any more. */
function bootId(): string {
  boot ??= readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  return boot;
}
