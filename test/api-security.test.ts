// Who may reach berthd: the unix socket is root:root 0660 (root only), or
// root:<group> with -G; a TCP listener needs --tlsverify and refuses
// clients without a certificate of its CA. Requests are made as real
// unprivileged users (setpriv) and with certificates made here by openssl.
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { berth, BERTH, busyboxTar, leaks, makeRoot, removeRoot, type TestRoot } from "./helpers/berth.ts";
import { berthdFails, curlAs, makeGroup, makeUser, removeGroup, removeUser, startBerthd, type TestUser } from "./helpers/daemon.ts";

let group: { name: string; gid: number };
let member: TestUser; // in `group`
let outsider: TestUser; // not in it
let pki: string;

function openssl(args: string[]) {
  const r = Bun.spawnSync(["openssl", ...args], { cwd: pki, stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr.toString()}`);
}

/** A CA and a certificate it signs (serverAuth for 127.0.0.1, or clientAuth) in `pki`. */
function makeCa(name: string) {
  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}-ca-key.pem`, "-out", `${name}-ca.pem`, "-days", "2", "-subj", `/CN=${name}-ca`]);
}
function makeCert(ca: string, name: string, cn: string, server: boolean) {
  writeFileSync(`${pki}/${name}.ext`, server ? "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n" : "extendedKeyUsage=clientAuth\n");
  openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}-key.pem`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`]);
  openssl(["x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}-ca.pem`, "-CAkey", `${ca}-ca-key.pem`, "-CAcreateserial", "-out", `${name}-cert.pem`, "-days", "2", "-extfile", `${name}.ext`]);
}

beforeAll(() => {
  group = makeGroup();
  member = makeUser(group.gid);
  outsider = makeUser(65534);
  pki = mkdtempSync("/tmp/berth-tests/pki-");
  makeCa("good");
  makeCa("other");
  makeCert("good", "server", "localhost", true);
  makeCert("good", "alice", "alice", false);
  makeCert("other", "mallory", "mallory", false);
});

afterAll(() => {
  removeUser(member);
  removeUser(outsider);
  removeGroup(group.name);
  rmSync(pki, { recursive: true, force: true });
});

async function withRoot(fn: (t: TestRoot) => Promise<void>) {
  const t = makeRoot();
  try {
    await fn(t);
  } finally {
    await removeRoot(t);
    expect(leaks(t)).toEqual([]);
  }
}

describe("the unix socket", () => {
  test("is root:root 0660 by default: root gets in, an unprivileged user is refused", () =>
    withRoot(async (t) => {
      await startBerthd(t);
      const st = statSync(t.socket);
      expect([st.uid, st.gid, st.mode & 0o777]).toEqual([0, 0, 0o660]);
      expect((await berth(t, ["ps"])).code).toBe(0);
      // curl's "Couldn't connect" (7): connect(2) on the socket is EACCES.
      expect((await curlAs(member, t.socket, "GET", "/_ping"))[0]).toBe(0);
      expect((await curlAs(outsider, t.socket, "GET", "/_ping"))[0]).toBe(0);
    }));

  test("-G <name> makes it root:<group> 0660: the group's member gets in, others are still refused", () =>
    withRoot(async (t) => {
      await startBerthd(t, ["-G", group.name]);
      const st = statSync(t.socket);
      expect([st.uid, st.gid, st.mode & 0o777]).toEqual([0, group.gid, 0o660]);
      expect(await curlAs(member, t.socket, "GET", "/_ping")).toEqual([200, "OK"]);
      const [status, body] = await curlAs(member, t.socket, "GET", "/containers/json");
      expect([status, body]).toEqual([200, "[]"]);
      expect((await curlAs(outsider, t.socket, "GET", "/_ping"))[0]).toBe(0);
    }));

  test("--group <gid> works too", () =>
    withRoot(async (t) => {
      await startBerthd(t, ["--group", String(group.gid)]);
      expect(statSync(t.socket).gid).toBe(group.gid);
      expect(await curlAs(member, t.socket, "GET", "/_ping")).toEqual([200, "OK"]);
    }));

  test("an unknown group is a clear error at start, and nothing is served", () =>
    withRoot(async (t) => {
      const r = await berthdFails(t, ["-G", "no-such-group-berth"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('group "no-such-group-berth" (-G) does not exist');
      expect(() => statSync(t.socket)).toThrow();
    }));
});

describe("slow clients", () => {
  test("a request head that does not arrive in time loses its connection; a long attach and an idle keep-alive do not", () =>
    withRoot(async (t) => {
      await startBerthd(t, [], { BERTH_API_HEADERS_TIMEOUT_MS: "1000" });
      expect((await berth(t, ["import", "--change", 'CMD ["sh"]', await busyboxTar(), "bb"])).code).toBe(0);
      let closedAt = 0;
      const start = Date.now();
      const sock = await Bun.connect({ unix: t.socket, socket: { data() {}, close: () => void (closedAt = Date.now()), error() {} } });
      sock.write("GET /_ping HTTP/1.1\r\nHost: x\r\nX-Slow: a");
      for (let i = 0; i < 50 && !closedAt; i++) await Bun.sleep(100);
      expect(closedAt).toBeGreaterThan(0);
      expect(closedAt - start).toBeGreaterThanOrEqual(900);
      // An attached run that prints after 2.5 s, its stdin open all along.
      const r = await berth(t, ["run", "--rm", "-i", "bb", "sh", "-c", "read x; sleep 2.5; echo got $x"], { stdin: "hello\n" });
      expect(r).toMatchObject({ code: 0, stdout: "got hello\n" });
      // A keep-alive connection idle for 2 s, then used again.
      const raw = await Bun.connect({ unix: t.socket, socket: { data: (_s, d) => void (got += Buffer.from(d).toString()), error() {} } });
      let got = "";
      raw.write("GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n");
      await Bun.sleep(2000);
      raw.write("GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n");
      await Bun.sleep(300);
      expect(got.match(/HTTP\/1\.1 200/g)?.length).toBe(2);
      raw.end();
    }));
});

describe("TCP with TLS", () => {
  const tlsFlags = () => ["--tlsverify", "--tlscacert", `${pki}/good-ca.pem`, "--tlscert", `${pki}/server-cert.pem`, "--tlskey", `${pki}/server-key.pem`];
  const clientFlags = (who = "alice", ca = "good") => ["--tlsverify", "--tlscacert", `${pki}/${ca}-ca.pem`, "--tlscert", `${pki}/${who}-cert.pem`, "--tlskey", `${pki}/${who}-key.pem`];
  const run = async (cmd: string[], env: Record<string, string> = {}, stdin?: string) => {
    const p = Bun.spawn(cmd, { stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin), stdout: "pipe", stderr: "pipe", env: { ...process.env, DOCKER_HOST: "", DOCKER_CLI_HINTS: "false", ...env } });
    const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    return { code, stdout, stderr };
  };
  const curl = (url: string, args: string[]) => run(["curl", "-s", "--max-time", "10", "-w", "\n%{http_code}", ...args, url]);

  test("-H tcp:// without --tlsverify is refused at start with a clear message", () =>
    withRoot(async (t) => {
      for (const extra of [[], ["--tls"], ["--tlsverify=false"]]) {
        const r = await berthdFails(t, ["-H", "tcp://127.0.0.1:0", ...extra]);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain("a TCP listener (-H tcp://...) requires --tlsverify with --tlscacert, --tlscert and --tlskey");
      }
      const missing = await berthdFails(t, ["-H", "tcp://127.0.0.1:0", "--tlsverify", "--tlscacert", `${pki}/nope.pem`, "--tlscert", `${pki}/server-cert.pem`, "--tlskey", `${pki}/server-key.pem`]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain(`cannot read --tlscacert ${pki}/nope.pem: ENOENT`);
      const bad = await berthdFails(t, ["-H", "tcp://[::1", "--tlsverify"]);
      expect(bad.stderr).toContain("invalid -H tcp://[::1");
    }));

  test("unix and tcp together; docker and berth work with a client certificate; none, or another CA's, is refused", () =>
    withRoot(async (t) => {
      const d = await startBerthd(t, ["-H", "tcp://127.0.0.1:0", ...tlsFlags()]);
      expect(d.tcp).toBeDefined();
      const host = d.tcp!;
      const url = `https://127.0.0.1:${host.split(":").pop()}/_ping`;
      // The unix socket still serves.
      expect((await berth(t, ["import", "--change", 'CMD ["sh"]', await busyboxTar(), "bb"])).code).toBe(0);

      // docker with the flags, and with DOCKER_CERT_PATH + DOCKER_TLS_VERIFY.
      const ps = await run(["docker", ...clientFlags(), "-H", host, "ps", "-a", "--format", "{{.Names}}"]);
      expect(ps).toMatchObject({ code: 0, stderr: "" });
      const certDir = mkdtempSync("/tmp/berth-tests/certs-");
      try {
        for (const [from, to] of [["good-ca", "ca"], ["alice-cert", "cert"], ["alice-key", "key"]]) Bun.spawnSync(["cp", `${pki}/${from}.pem`, `${certDir}/${to}.pem`]);
        const env = { DOCKER_CERT_PATH: certDir, DOCKER_TLS_VERIFY: "1" };
        const r = await run(["docker", "-H", host, "run", "--rm", "bb", "echo", "docker over tls"], env);
        expect(r).toMatchObject({ code: 0, stdout: "docker over tls\n" });
        const bi = await run([BERTH, "-H", host, "run", "--rm", "bb", "echo", "berth over tls"], env);
        expect(bi).toMatchObject({ code: 0, stdout: "berth over tls\n" });
      } finally {
        rmSync(certDir, { recursive: true, force: true });
      }
      // Hijacked connections both ways (stdin to the container, output back).
      const piped = await run([BERTH, ...clientFlags(), "-H", host, "run", "-i", "--rm", "bb", "cat"], {}, "piped over tls\n");
      expect(piped).toMatchObject({ code: 0, stdout: "piped over tls\n" });
      const dockerPiped = await run(["docker", ...clientFlags(), "-H", host, "run", "-i", "--rm", "bb", "cat"], {}, "docker piped\n");
      expect(dockerPiped).toMatchObject({ code: 0, stdout: "docker piped\n" });
      const version = await run([BERTH, ...clientFlags(), "-H", host, "version"]);
      expect(version.code).toBe(0);
      expect(version.stdout).toContain("Server: berth");

      // Refused: no client certificate, one of another CA, plain HTTP.
      const good = await curl(url, ["--cacert", `${pki}/good-ca.pem`, "--cert", `${pki}/alice-cert.pem`, "--key", `${pki}/alice-key.pem`]);
      expect(good.stdout).toBe("OK\n200");
      const noCert = await curl(url, ["--cacert", `${pki}/good-ca.pem`]);
      expect(noCert.code).not.toBe(0);
      expect(noCert.stdout).toBe("\n000");
      const otherCa = await curl(url, ["--cacert", `${pki}/good-ca.pem`, "--cert", `${pki}/mallory-cert.pem`, "--key", `${pki}/mallory-key.pem`]);
      expect(otherCa.code).not.toBe(0);
      expect(otherCa.stdout).toBe("\n000");
      const plain = await curl(url.replace("https:", "http:"), []);
      expect(plain.stdout.endsWith("000")).toBe(true);
      const dockerNoCert = await run(["docker", "--tls", "-H", host, "ps"], { DOCKER_CERT_PATH: "/nonexistent" });
      expect(dockerNoCert.code).not.toBe(0);
      const berthOtherCa = await run([BERTH, ...clientFlags("mallory"), "-H", host, "ps"]);
      expect(berthOtherCa.code).not.toBe(0);
      expect(berthOtherCa.stderr).toContain(`cannot reach berthd at ${host}`);
      // A TLS client's objects are owned by its certificate's CN.
      expect((await run(["docker", ...clientFlags(), "-H", host, "volume", "create", "tls-made"])).code).toBe(0);
      expect(JSON.parse((await berth(t, ["volume", "inspect", "tls-made"])).stdout)[0].Owner).toEqual({ User: "alice", CN: "alice" });
      // The daemon is unaffected by the refused clients.
      expect((await run(["docker", ...clientFlags(), "-H", host, "info", "--format", "{{.Images}}"])).stdout.trim()).toBe("1");
    }));

  test("the berth CLI says which TLS file it cannot read", () =>
    withRoot(async (t) => {
      const r = await berth(t, ["-H", "tcp://127.0.0.1:1", "--tlsverify", "--tlscacert", `${pki}/absent.pem`, "ps"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`could not read --tlscacert ${pki}/absent.pem: ENOENT`);
    }));
});
