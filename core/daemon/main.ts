// berthd: the daemon. Opens the engine under --root, takes back the
// containers an earlier daemon left running, and serves the Docker Engine
// API on its unix socket(s) and TLS listeners (core/api/listen.ts). On
// SIGTERM it stops serving and exits; containers keep running under their
// monitors.
import { chmodSync, closeSync, mkdirSync, openSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname } from "node:path";
import { checkListenOptions, listen, parseHost, type ListenOptions } from "../api/listen.ts";
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
  { name: "host", short: "H", kind: "list", valueName: "list", help: "Daemon socket(s) to listen on: unix:///path (default /run/berth/berth.sock for the default root) or tcp://ADDRESS:PORT (needs --tlsverify)" },
  { name: "group", short: "G", kind: "string", valueName: "string", help: "Group for the unix socket(s) (default: none, root only)" },
  { name: "tls", kind: "bool", help: "Use TLS; implied by --tlsverify (berthd serves TCP only with --tlsverify)" },
  { name: "tlsverify", kind: "bool", help: "Use TLS and verify the remote (a TCP client must present a certificate signed by --tlscacert)" },
  { name: "tlscacert", kind: "string", valueName: "string", help: "Trust certs signed only by this CA (default \"~/.docker/ca.pem\", or $DOCKER_CERT_PATH/ca.pem)" },
  { name: "tlscert", kind: "string", valueName: "string", help: "Path to TLS certificate file (default \"~/.docker/cert.pem\", or $DOCKER_CERT_PATH/cert.pem)" },
  { name: "tlskey", kind: "string", valueName: "string", help: "Path to TLS key file (default \"~/.docker/key.pem\", or $DOCKER_CERT_PATH/key.pem)" },
  { name: "owner-scope", kind: "bool", help: "Let each client other than root see and act on only the containers, images, networks and volumes it created (images: all usable, only its own removable)" },
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
    process.stdout.write(helpText("berthd", { usage: "[OPTIONS]", summary: "berth's daemon: the Docker Engine API on unix sockets (and TCP with TLS client certificates)", flags: FLAGS }));
    return;
  }
  if (process.getuid?.() !== 0) fail("berthd must run as root");
  const root = flags.string("root")!.replace(/\/+$/, "");
  const listenOpts = listenOptions(flags, root);
  checkListenOptions(listenOpts); // a bad -H, -G or TLS file fails before anything starts
  // The engine's own socket (compose watch calls back on it, info shows it): the first unix one.
  const socket = listenOpts.hosts.find((h) => h.kind === "unix")?.path;
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

  // The default socket is in the exec root (its c/ and e/ stay 0700): searchable, so -G's group reaches the socket.
  if (socket === defaultSocket(root)) chmodSync(dirname(socket), 0o711);
  const server = createApiServer(engine, apiRouter(), { ownerScope: flags.bool("owner-scope") });
  const listeners = await listen(server, listenOpts);
  writeFileSync(`${root}/berthd.pid`, `${process.pid}\n`);
  console.error(`berthd: serving the Docker Engine API on ${listeners.describe()} (root ${root})`);

  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    listeners.close();
    server.close();
    engine.discovery.close();
    await takeDownNetworks(engine);
    (await engine.plugin("isolation")).release?.();
    rmSync(`${root}/berthd.pid`, { force: true });
    closeSync(lockFd);
    process.exit(0);
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
}

/** -H, -G and the TLS flags, with Docker's defaults (~/.docker/{ca,cert,key}.pem or $DOCKER_CERT_PATH). */
function listenOptions(flags: ReturnType<typeof parseArgs>["flags"], root: string): ListenOptions {
  const specs = flags.list("host");
  const hosts = (specs.length ? specs : [`unix://${defaultSocket(root)}`]).map(parseHost);
  const dir = process.env.DOCKER_CERT_PATH || `${homedir()}/.docker`;
  const verify = flags.has("tlsverify") ? flags.bool("tlsverify") : !!process.env.DOCKER_TLS_VERIFY;
  return {
    hosts,
    group: flags.string("group"),
    tls: verify
      ? { ca: flags.string("tlscacert") ?? `${dir}/ca.pem`, cert: flags.string("tlscert") ?? `${dir}/cert.pem`, key: flags.string("tlskey") ?? `${dir}/key.pem` }
      : undefined,
  };
}

main().catch((err) => fail(err instanceof BerthError ? `${err.message}${err.hint ? ` (${err.hint})` : ""}` : String(err?.stack ?? err)));
