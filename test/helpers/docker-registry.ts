// A real registry for tests: Debian's docker-registry (distribution 2.8) on
// 127.0.0.1 at a free port, its storage in a temporary directory, its log
// (JSON lines) kept so tests can see which requests reached it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";

export interface RegistryRequest {
  method: string;
  uri: string;
  status: number;
}

export interface TestRegistry {
  /** "127.0.0.1:<port>", as a reference's domain. */
  domain: string;
  url: string;
  port: number;
  /** The storage root: blobs are under docker/registry/v2/blobs/sha256/<xx>/<hex>/data. */
  storage: string;
  /** The requests the registry has completed so far, in order. */
  requests(): RegistryRequest[];
  /** How many requests it refused with a 401 (logged as such, not as completed requests). */
  refusals(): number;
  /** Wait (up to 2 s) until the log shows a completed request that `match` accepts: the log line comes after the response. */
  served(match: (r: RegistryRequest) => boolean): Promise<RegistryRequest[]>;
  stop(): Promise<void>;
}

/** A port nothing listens on now (the kernel's pick). */
export function freePort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

/** The file the registry keeps a blob's bytes in. */
export const blobDataPath = (storage: string, digest: string) => `${storage}/docker/registry/v2/blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}/data`;

/** Start `docker-registry serve` with `extra` merged into its config (auth, http.tls, ...); `storage` shares another one's. */
export async function startRegistry(
  extra: { auth?: unknown; tls?: { certificate: string; key: string }; storage?: string; config?: Record<string, unknown> } = {},
): Promise<TestRegistry> {
  const dir = mkdtempSync(`${tmpdir()}/berth-registry-`);
  const storage = extra.storage ?? `${dir}/storage`;
  const port = freePort();
  const config = {
    version: 0.1,
    log: { level: "info", formatter: "json", accesslog: { disabled: true } },
    storage: { filesystem: { rootdirectory: storage }, delete: { enabled: true } },
    http: { addr: `127.0.0.1:${port}`, ...(extra.tls ? { tls: extra.tls } : {}) },
    ...(extra.auth ? { auth: extra.auth } : {}),
    ...extra.config,
  };
  // YAML is a superset of JSON.
  await Bun.write(`${dir}/config.yml`, JSON.stringify(config));
  const proc = Bun.spawn(["docker-registry", "serve", `${dir}/config.yml`], { stdout: "ignore", stderr: "pipe" });
  const log: string[] = [];
  const reading = (async () => {
    let rest = "";
    for await (const chunk of proc.stderr.pipeThrough(new TextDecoderStream())) {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop()!;
      log.push(...lines);
    }
  })();
  const entries = () =>
    log.flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, string | number>];
      } catch {
        return [];
      }
    });
  const requests = () =>
    entries()
      .filter((e) => e.msg === "response completed" || e.msg === "response completed with error")
      .map((e) => ({ method: String(e["http.request.method"]), uri: String(e["http.request.uri"]), status: Number(e["http.response.status"]) }));
  const scheme = extra.tls ? "https" : "http";
  const url = `${scheme}://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null) throw new Error(`docker-registry exited (${proc.exitCode}):\n${log.join("\n")}`);
    // Up when it answers: anything, even a TLS handshake failure, once the port is open.
    const open = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } }).then(
      (s) => (s.end(), true),
      () => false,
    );
    if (open) break;
    if (i === 100) throw new Error(`docker-registry did not listen on ${port}:\n${log.join("\n")}`);
    await Bun.sleep(50);
  }
  return {
    domain: `127.0.0.1:${port}`,
    url,
    port,
    storage,
    requests,
    refusals: () => entries().filter((e) => String(e.msg).startsWith("error authorizing context")).length,
    async served(match) {
      for (let i = 0; i < 40 && !requests().some(match); i++) await Bun.sleep(50);
      return requests().filter(match);
    },
    async stop() {
      proc.kill();
      await proc.exited;
      await reading;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
