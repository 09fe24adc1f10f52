// Reaching berthd: the socket of -H, or the one of --root's daemon, which
// is started on first use when none is running.
import { existsSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { BerthError, invalidArgument } from "../errors.ts";
import { DAEMON_SCRIPT, defaultSocket } from "../location.ts";
import type { ParsedFlags } from "./args.ts";
import { Client, type Remote } from "./client.ts";

/**
 * A client of the daemon at -H, or of --root's daemon, which is started
 * when a request finds nothing listening (no ping first: one round trip less).
 */
export async function connect(global: ParsedFlags): Promise<Client> {
  const host = global.string("host");
  if (host?.startsWith("tcp://")) return new Client("", undefined, remote(global, host));
  const root = global.string("root")!.replace(/\/+$/, "");
  const socket = host ? host.replace(/^unix:\/\//, "") : defaultSocket(root);
  return new Client(socket, host ? undefined : () => startAndWait(global, root, socket));
}

/**
 * -H tcp://host[:port] with docker's TLS flags: --tlsverify (or
 * DOCKER_TLS_VERIFY) checks the daemon against --tlscacert; --tls alone
 * encrypts only. The files default to $DOCKER_CERT_PATH or ~/.docker; a
 * default client certificate is sent when it exists.
 */
function remote(global: ParsedFlags, host: string): Remote {
  const verify = global.has("tlsverify") ? global.bool("tlsverify") : !!process.env.DOCKER_TLS_VERIFY;
  const useTls = verify || global.bool("tls") || (!global.has("tls") && !!process.env.DOCKER_TLS);
  const m = /^tcp:\/\/(\[[^\]]+\]|[^:/]+)(?::(\d+))?\/?$/.exec(host);
  if (!m) throw invalidArgument(`invalid -H ${host}: use tcp://HOST:PORT`);
  const r: Remote = { host: m[1]!.replace(/^\[|\]$/g, ""), port: Number(m[2] ?? (useTls ? 2376 : 2375)) };
  if (!useTls) return r;
  const dir = process.env.DOCKER_CERT_PATH || `${homedir()}/.docker`;
  const file = (flag: string, name: string, required: boolean) => {
    const path = global.string(flag) ?? `${dir}/${name}`;
    if (!required && !global.has(flag) && !existsSync(path)) return undefined;
    try {
      return readFileSync(path, "utf8");
    } catch (err) {
      throw invalidArgument(`could not read --${flag} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  r.tls = { verify, ca: verify ? file("tlscacert", "ca.pem", true) : undefined, cert: file("tlscert", "cert.pem", false), key: file("tlskey", "key.pem", false) };
  return r;
}

async function startAndWait(global: ParsedFlags, root: string, socket: string): Promise<void> {
  const client = new Client(socket);
  if (await client.ping()) return; // another berth started it meanwhile
  const daemon = startDaemon(global, root);
  let ended = false;
  void daemon.exited.then(() => (ended = true));
  for (let i = 0; i < 1000 && !ended; i++) {
    if (await client.ping()) return;
    await Bun.sleep(i < 100 ? 5 : 20);
  }
  // Another berth may have started it meanwhile (ours then gave way).
  if (await client.ping()) return;
  let log = "";
  try {
    log = readFileSync(`${root}/berthd.log`, "utf8").trim().split("\n").slice(-5).join("\n");
  } catch {
    // no log
  }
  throw new BerthError("Unavailable", `berthd did not start on ${root}${log ? `:\n${log}` : ""}`);
}

/** Start berthd for `root` in its own session, its output in <root>/berthd.log. */
function startDaemon(global: ParsedFlags, root: string) {
  mkdirSync(root, { recursive: true, mode: 0o711 });
  const log = openSync(`${root}/berthd.log`, "a");
  const args = ["--root", root];
  for (const f of ["storage-driver", "cgroup-driver", "cgroup-parent", "userns-remap"]) {
    const v = global.string(f);
    if (v !== undefined) args.push(`--${f}`, v);
  }
  for (const f of ["insecure-registry", "registry-mirror"]) for (const v of global.list(f)) args.push(`--${f}`, v);
  const env: Record<string, string> = { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin" };
  if (process.env.BERTH_TRACE) env.BERTH_TRACE = process.env.BERTH_TRACE;
  const child = Bun.spawn(["setsid", process.execPath, DAEMON_SCRIPT, ...args], { stdio: ["ignore", log, log], env });
  child.unref();
  return child;
}
