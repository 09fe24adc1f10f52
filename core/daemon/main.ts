// berthd: the daemon. Opens the engine under --root, takes back the
// containers an earlier daemon left running, and serves the Docker Engine
// API on a unix socket. On SIGTERM it stops serving and exits; containers
// keep running under their monitors.
import { chmodSync, closeSync, mkdirSync, openSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { createApiServer } from "../api/server.ts";
import { apiRouter } from "../api/routes/index.ts";
import { helpText, parseArgs, UsageError, type FlagDef } from "../cli/args.ts";
import { DEFAULT_ROOT, defaultSocket, Engine } from "../engine/engine.ts";
import { initNetworks, sweepNetworks, takeDownNetworks } from "../engine/networks.ts";
import { recover } from "../engine/recover.ts";
import { initUserns } from "../engine/userns.ts";
import { resolveRemap } from "../userns/remap.ts";
import { BerthError } from "../errors.ts";
import { libcSys } from "../sys/libc.ts";
import { trace } from "../trace.ts";
import { PLUGINS } from "../../plugins/index.ts";

const FLAGS: FlagDef[] = [
  { name: "root", kind: "string", valueName: "dir", default: DEFAULT_ROOT, help: "Root directory of berth's state" },
  { name: "host", short: "H", kind: "string", valueName: "socket", help: "unix:///path of the API socket (default /run/berth/berth.sock for the default root)" },
  { name: "exec-root", kind: "string", valueName: "dir", help: "Directory of the monitors' sockets (default /run/berth for the default root)" },
  { name: "storage-driver", short: "s", kind: "string", valueName: "name", help: "Storage driver (default: overlay when the kernel has it, else vfs)" },
  { name: "cgroup-driver", kind: "string", valueName: "name", help: "cgroup driver: cgroup-v2, cgroup-v1 or none (default: cgroup-v2 on a pure v2 host, else cgroup-v1, else none)" },
  { name: "cgroup-parent", kind: "string", valueName: "name", default: "berth", help: "Parent cgroup of containers" },
  { name: "insecure-registry", kind: "list", valueName: "host:port", help: "A registry reached over plain HTTP (localhost always is)" },
  { name: "registry-mirror", kind: "list", valueName: "url", help: "A mirror of Docker Hub, tried before it (http://host:port)" },
  { name: "userns-remap", kind: "string", valueName: "user", help: "Run containers in user namespaces, root mapped to the subordinate ids of: default (the user berthremap, added if missing), USER[:GROUP] or UID[:GID]" },
];

function fail(message: string): never {
  console.error(`berthd: ${message}`);
  process.exit(1);
}

async function main() {
  let flags;
  try {
    flags = parseArgs(process.argv.slice(2), FLAGS).flags;
  } catch (err) {
    if (err instanceof UsageError) fail(`${err.message}\nSee 'berthd --help'.`);
    throw err;
  }
  if (flags.bool("help")) {
    process.stdout.write(helpText("berthd", { usage: "[OPTIONS]", summary: "berth's daemon: the Docker Engine API on a unix socket", flags: FLAGS }));
    return;
  }
  if (process.getuid?.() !== 0) fail("berthd must run as root");
  const root = flags.string("root")!.replace(/\/+$/, "");
  const socket = (flags.string("host") ?? `unix://${defaultSocket(root)}`).replace(/^unix:\/\//, "");
  if (socket.startsWith("tcp:")) fail("only unix sockets are supported (-H unix:///path)");
  mkdirSync(root, { recursive: true, mode: 0o711 });
  const remapFlag = flags.string("userns-remap");
  const userns = remapFlag === undefined ? undefined : resolveRemap(remapFlag);

  // One daemon per root: the lock is held for the daemon's whole life.
  const lockFd = openSync(`${root}/berthd.lock`, "w", 0o600);
  if (!libcSys.tryLock(lockFd)) fail(`another berthd is running on ${root}`);

  const engine = Engine.open({
    root,
    execRoot: flags.string("exec-root"),
    plugins: PLUGINS,
    storageDriver: flags.string("storage-driver"),
    cgroupDriver: flags.string("cgroup-driver"),
    cgroupParent: flags.string("cgroup-parent"),
    socket,
    insecureRegistries: flags.list("insecure-registry"),
    registryMirrors: flags.list("registry-mirror"),
    userns,
  });
  // Refuse to start with a plugin that cannot run, rather than fail at the first container.
  await Promise.all([engine.plugin("isolation"), engine.plugin("limits"), engine.storage(), engine.plugin("volume")]);
  await initNetworks(engine);
  await recover(engine);
  initUserns(engine);
  await sweepNetworks(engine);
  await engine.discovery.networksChanged();
  trace("berthd: recovered");

  const server = createApiServer(engine, apiRouter());
  mkdirSync(dirname(socket), { recursive: true, mode: 0o711 });
  rmSync(socket, { force: true }); // ours: the lock says no other daemon uses this root
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socket, () => resolve());
  });
  chmodSync(socket, 0o660);
  writeFileSync(`${root}/berthd.pid`, `${process.pid}\n`);
  console.error(`berthd: serving the Docker Engine API on unix://${socket} (root ${root})`);

  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    server.close();
    engine.discovery.close();
    await takeDownNetworks(engine);
    rmSync(socket, { force: true });
    rmSync(`${root}/berthd.pid`, { force: true });
    closeSync(lockFd);
    process.exit(0);
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
}

main().catch((err) => fail(err instanceof BerthError ? `${err.message}${err.hint ? ` (${err.hint})` : ""}` : String(err?.stack ?? err)));
