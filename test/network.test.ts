// Networking end to end, on the real kernel: bridge networks with names
// resolved by the embedded DNS, TCP and UDP between containers, isolation
// between networks, published ports on 127.0.0.1, host and container:
// modes, connect/disconnect of running containers, 200 containers on one
// bridge, the docker CLI, and a daemon crash. All traffic stays on loopback
// and on the networks these tests create.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { chmodSync, mkdirSync, readFileSync } from "node:fs";
import { berth, docker, importBusybox, leaks, makeRoot, removeRoot, rootLinks, stopDaemon, type TestRoot } from "./helpers/berth.ts";

let t: TestRoot;
let tools: string; // a host directory with udp-echo, bound into containers at /t
beforeAll(async () => {
  t = makeRoot();
  await importBusybox(t);
  tools = `${t.root}/tools`;
  mkdirSync(tools);
  const cc = Bun.spawnSync(["gcc", "-Os", "-static", "-o", `${tools}/udp-echo`, new URL("./helpers/udp-echo.c", import.meta.url).pathname], { stderr: "pipe" });
  if (cc.exitCode !== 0) throw new Error(`gcc udp-echo.c: ${cc.stderr}`);
  chmodSync(`${tools}/udp-echo`, 0o755);
}, 120_000);
afterEach(async () => {
  const ids = (await berth(t, ["ps", "-aq"])).stdout.trim().split("\n").filter(Boolean);
  if (ids.length) await berth(t, ["rm", "-f", ...ids]);
  await berth(t, ["network", "prune", "-f"]);
  expect(leaks(t)).toEqual([]);
});
afterAll(() => removeRoot(t));

async function ok(args: string[]): Promise<string> {
  const r = await berth(t, args);
  if (r.code !== 0) throw new Error(`berth ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** A detached busybox httpd serving its hostname at /hostname, on port 80. */
const httpd = (name: string, ...flags: string[]) => ok(["run", "-d", "--name", name, ...flags, "bb", "httpd", "-f", "-p", "80", "-h", "/etc"]);

async function until(what: string, check: () => Promise<boolean>, ms = 5000) {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await Bun.sleep(50);
  }
}

const get = async (url: string) => {
  try {
    return await (await fetch(url, { signal: AbortSignal.timeout(3000) })).text();
  } catch {
    return "";
  }
};

describe("bridge networks", () => {
  test("two containers on a user network reach each other by name, over TCP and UDP; the DNS answers aliases round-robin", async () => {
    await ok(["network", "create", "app"]);
    const id = (await httpd("web", "--network", "app", "--network-alias", "www")).trim();
    await ok(["run", "-d", "--name", "udp", "--network", "app", "-v", `${tools}:/t:ro`, "bb", "/t/udp-echo", "serve", "9000"]);
    const r = await berth(t, ["run", "--rm", "--network", "app", "-v", `${tools}:/t:ro`, "bb", "sh", "-c",
      "wget -qO- http://web/hostname; wget -qO- http://www/hostname; ip=$(nslookup udp | awk '/^Address/ {a=$2} END {print a}'); /t/udp-echo send $ip 9000 ping"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(new RegExp(`^${id.slice(0, 12)}\n${id.slice(0, 12)}\necho from \\d+\\.\\d+\\.\\d+\\.\\d+: ping\n$`));
    // Two containers behind one alias: both addresses, in turn first.
    await httpd("web2", "--network", "app", "--network-alias", "www");
    const ips = (await ok(["inspect", "-f", "{{.NetworkSettings.Networks.app.IPAddress}}", "web", "web2"])).trim().split("\n").sort();
    const firsts = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const out = await ok(["run", "--rm", "--network", "app", "bb", "nslookup", "www"]);
      const answers = [...out.matchAll(/^Address: (\S+)$/gm)].map((m) => m[1]!).filter((a) => !a.endsWith(".1"));
      expect([...answers].sort()).toEqual(ips);
      firsts.add(answers[0]!);
    }
    expect(firsts.size).toBe(2);
  }, 60_000);

  test("containers on different networks cannot reach each other, nor resolve each other's names", async () => {
    await ok(["network", "create", "red"]);
    await ok(["network", "create", "blue"]);
    await httpd("redweb", "--network", "red");
    const redIp = (await ok(["inspect", "-f", "{{.NetworkSettings.Networks.red.IPAddress}}", "redweb"])).trim();
    const r = await berth(t, ["run", "--rm", "--network", "blue", "bb", "sh", "-c",
      `wget -T 2 -qO- http://${redIp}/hostname && echo REACHED; nslookup redweb >/dev/null 2>&1 && echo RESOLVED; echo done`]);
    expect(r.stdout).toBe("done\n");
    // The same from the default bridge.
    const d = await berth(t, ["run", "--rm", "bb", "sh", "-c", `wget -T 2 -qO- http://${redIp}/hostname && echo REACHED; echo done`]);
    expect(d.stdout).toBe("done\n");
  }, 60_000);

  test("a static --ip; an address in use or outside the subnet is refused with a clear error", async () => {
    await ok(["network", "create", "--subnet", "10.213.7.0/24", "--gateway", "10.213.7.254", "fixed"]);
    expect((await ok(["network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}", "fixed"])).trim()).toBe("10.213.7.0/24 10.213.7.254");
    await httpd("pinned", "--network", "fixed", "--ip", "10.213.7.9");
    expect((await ok(["exec", "pinned", "ip", "-o", "-4", "addr", "show", "eth0"]))).toContain("inet 10.213.7.9/24");
    expect((await ok(["exec", "pinned", "ip", "route", "show", "default"]))).toContain("default via 10.213.7.254 dev eth0");
    const taken = await berth(t, ["run", "--rm", "--network", "fixed", "--ip", "10.213.7.9", "bb", "true"]);
    expect(taken.code).toBe(125);
    expect(taken.stderr).toContain("Address already in use: 10.213.7.9");
    const outside = await berth(t, ["create", "--network", "fixed", "--ip", "10.99.0.5", "bb", "true"]);
    expect(outside.code).toBe(125);
    expect(outside.stderr).toContain("address 10.99.0.5 is not in the network's subnet 10.213.7.0/24");
    // A subnet overlapping another network's is refused too.
    const overlap = await berth(t, ["network", "create", "--subnet", "10.213.0.0/16", "clash"]);
    expect(overlap.code).toBe(1);
    expect(overlap.stderr).toContain("overlaps");
  }, 60_000);

  test("connect and disconnect a running container: the interface comes and goes, names resolve accordingly", async () => {
    await ok(["network", "create", "front"]);
    await ok(["network", "create", "back"]);
    await httpd("api", "--network", "back");
    await ok(["run", "-d", "--name", "proxy", "--network", "front", "bb", "sleep", "1000"]);
    const before = await berth(t, ["exec", "proxy", "sh", "-c", "wget -T 2 -qO- http://api/hostname || echo unreachable"]);
    expect(before.stdout).toBe("unreachable\n");
    await ok(["network", "connect", "--alias", "backend", "back", "proxy"]);
    expect(await ok(["exec", "proxy", "ip", "-o", "link"])).toMatch(/eth1@/);
    expect((await ok(["exec", "proxy", "wget", "-qO-", "http://api/hostname"])).length).toBeGreaterThan(0);
    expect((await ok(["exec", "api", "nslookup", "backend"]))).toMatch(/Address: \d+\.\d+\.\d+\.\d+/);
    expect(Object.keys(JSON.parse(await ok(["inspect", "-f", "{{json .NetworkSettings.Networks}}", "proxy"]))).sort()).toEqual(["back", "front"]);
    await ok(["network", "disconnect", "back", "proxy"]);
    expect(await ok(["exec", "proxy", "ip", "-o", "link"])).not.toMatch(/eth1@/);
    expect((await berth(t, ["exec", "proxy", "sh", "-c", "wget -T 2 -qO- http://api/hostname || echo unreachable"])).stdout).toBe("unreachable\n");
    const busy = await berth(t, ["network", "rm", "back"]);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toContain("has active endpoints");
  }, 60_000);

  test("200 containers on one bridge get 200 different addresses, and go without a trace", async () => {
    await ok(["network", "create", "crowd"]);
    const ids: string[] = [];
    for (let i = 0; i < 200; i += 10) {
      const batch = await Promise.all(Array.from({ length: 10 }, (_, k) => berth(t, ["run", "-d", "--network", "crowd", "--name", `c${i + k}`, "bb", "sleep", "1000"])));
      for (const r of batch) {
        expect(r.code, r.stderr).toBe(0);
        ids.push(r.stdout.trim());
      }
    }
    const ips = (await ok(["inspect", "-f", "{{.NetworkSettings.Networks.crowd.IPAddress}}", ...ids])).trim().split("\n");
    expect(ips).toHaveLength(200);
    expect(new Set(ips).size).toBe(200);
    expect(rootLinks(t).veths).toHaveLength(200);
    const r = await berth(t, ["rm", "-f", ...ids]);
    expect(r.code, r.stderr).toBe(0);
    await until("the kernel has freed the 200 namespaces and their veths", async () => rootLinks(t).veths.length === 0);
  }, 180_000);
});

describe("the way out", () => {
  // A stand-in for the world outside: a namespace this test makes, joined to
  // the host by a veth on a subnet of its own, running the UDP echo.
  test("traffic leaving a network is masqueraded to the host's address; an --internal network has no way out; MTU and /etc files are the container's own", async () => {
    const tag = Math.random().toString(16).slice(2, 8);
    const ns = `berth-ext-${tag}`;
    const sh = (cmd: string) => Bun.spawnSync(["sh", "-c", cmd], { stderr: "pipe" });
    const net = `10.${200 + Math.floor(Math.random() * 50)}.${Math.floor(Math.random() * 250)}`;
    const setup = sh(`ip netns add ${ns} && ip link add bxh${tag} type veth peer name bxn${tag} netns ${ns} && ip addr add ${net}.1/24 dev bxh${tag} && ip link set bxh${tag} up && ` +
      `ip -n ${ns} addr add ${net}.2/24 dev bxn${tag} && ip -n ${ns} link set bxn${tag} up && ip -n ${ns} link set lo up`);
    expect(setup.exitCode, setup.stderr.toString()).toBe(0);
    const echo = Bun.spawn(["ip", "netns", "exec", ns, `${tools}/udp-echo`, "serve", "9100"], { stdout: "ignore", stderr: "ignore" });
    try {
      await ok(["network", "create", "-o", "com.docker.network.driver.mtu=1400", "out"]);
      await ok(["network", "create", "--internal", "sealed"]);
      const r = await ok(["run", "--rm", "--network", "out", "--hostname", "outbound", "-v", `${tools}:/t:ro`, "bb", "sh", "-c",
        `/t/udp-echo send ${net}.2 9100 hello; cat /sys/class/net/eth0/mtu; hostname; grep -c outbound /etc/hosts; cat /etc/resolv.conf`]);
      const gw = (await ok(["network", "inspect", "-f", "{{range .IPAM.Config}}{{.Gateway}}{{end}}", "out"])).trim();
      expect(r).toBe(`echo from ${net}.1: hello\n1400\noutbound\n1\nnameserver ${gw}\n`);
      const sealed = await berth(t, ["run", "--rm", "--network", "sealed", "-v", `${tools}:/t:ro`, "bb", "sh", "-c", `/t/udp-echo send ${net}.2 9100 hello || echo no way out`]);
      expect(sealed.stdout).toBe("no way out\n");
    } finally {
      echo.kill();
      await echo.exited;
      sh(`ip link del bxh${tag}; ip netns del ${ns}`);
    }
  }, 60_000);
});

describe("published ports", () => {
  test("-p [ip:]host:container answers on 127.0.0.1; -p ip::container and -P pick free host ports; a taken port is refused; rm takes the rules away", async () => {
    const a = (await httpd("pa", "-p", "127.0.0.1:0:80", "-p", "18181:80")).trim();
    const port = (await ok(["port", "pa", "80"])).trim().split("\n");
    expect(port).toContain("0.0.0.0:18181");
    const local = port.find((l) => l.startsWith("127.0.0.1:"))!;
    expect(Number(local.split(":")[1])).toBeGreaterThanOrEqual(1024);
    await until("the published port answers", async () => (await get("http://127.0.0.1:18181/hostname")) === `${a.slice(0, 12)}\n`);
    expect(await get(`http://${local}/hostname`)).toBe(`${a.slice(0, 12)}\n`);
    expect((await ok(["ps", "--format", "{{.Ports}}"]))).toContain("0.0.0.0:18181->80/tcp");
    // -P: every exposed port gets one.
    await ok(["run", "-d", "--name", "pb", "-P", "--expose", "80", "bb", "httpd", "-f", "-p", "80", "-h", "/etc"]);
    const pb = (await ok(["port", "pb", "80/tcp"])).trim();
    expect(pb).toMatch(/^0\.0\.0\.0:\d+$/);
    await until("-P's port answers", async () => (await get(`http://127.0.0.1:${pb.split(":")[1]}/hostname`)).length > 0);
    // A taken port is Docker's error, and leaves nothing.
    const clash = await berth(t, ["run", "-d", "--name", "pc", "-p", "18181:80", "bb", "sleep", "10"]);
    expect(clash.code).toBe(125);
    expect(clash.stderr).toContain("Bind for 0.0.0.0:18181 failed: port is already allocated");
    await ok(["rm", "-f", "pa", "pb", "pc"]);
    expect(await get("http://127.0.0.1:18181/hostname")).toBe("");
  }, 60_000);
});

describe("other network modes", () => {
  test("--network host sees the host's interfaces and its hostname; none has only loopback", async () => {
    const hostLinks = Bun.spawnSync(["ip", "-o", "link"]).stdout.toString().split("\n").filter(Boolean).length;
    const r = await ok(["run", "--rm", "--network", "host", "bb", "sh", "-c", "ip -o link | wc -l; hostname"]);
    const [n, name] = r.trim().split("\n");
    expect(Number(n)).toBe(hostLinks);
    expect(name).toBe(readFileSync("/proc/sys/kernel/hostname", "utf8").trim());
    expect((await ok(["run", "--rm", "--network", "none", "bb", "ip", "-o", "link"])).trim().split("\n")).toEqual([expect.stringMatching(/^1: lo:/)]);
  });

  test("container:<name> shares the other container's namespace: its interfaces, its localhost", async () => {
    await httpd("owner");
    const ownerLinks = await ok(["exec", "owner", "ip", "-o", "-4", "addr"]);
    const r = await ok(["run", "--rm", "--network", "container:owner", "bb", "sh", "-c", "ip -o -4 addr; wget -qO- http://127.0.0.1/hostname; hostname"]);
    const ownerId = (await ok(["inspect", "-f", "{{.Id}}", "owner"])).trim();
    expect(r).toBe(`${ownerLinks}${ownerId.slice(0, 12)}\n${ownerId.slice(0, 12)}\n`);
    const stopped = await berth(t, ["create", "--name", "asleep", "bb", "true"]);
    expect(stopped.code).toBe(0);
    const bad = await berth(t, ["run", "--rm", "--network", "container:asleep", "bb", "true"]);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toContain("cannot join network namespace of a non running container");
  });
});

describe("the docker CLI", () => {
  test("network create/ls/inspect/rm, run -p, port, and inspect's NetworkSettings", async () => {
    const d = (args: string[]) => docker(t, args);
    expect((await d(["network", "create", "dnet"])).code).toBe(0);
    expect((await d(["network", "ls", "--format", "{{.Name}} {{.Driver}}"])).stdout.split("\n")).toEqual(expect.arrayContaining(["bridge bridge", "dnet bridge", "host host", "none null"]));
    const run = await d(["run", "-d", "--name", "dweb", "--network", "dnet", "-p", "18282:80", "bb", "httpd", "-f", "-p", "80", "-h", "/etc"]);
    expect(run.code, run.stderr).toBe(0);
    const ip = (await d(["inspect", "-f", "{{.NetworkSettings.Networks.dnet.IPAddress}}", "dweb"])).stdout.trim();
    expect(ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect((await d(["port", "dweb"])).stdout).toBe("80/tcp -> 0.0.0.0:18282\n");
    const net = JSON.parse((await d(["network", "inspect", "dnet"])).stdout)[0];
    expect(Object.values(net.Containers as Record<string, { Name: string; IPv4Address: string }>)).toEqual([expect.objectContaining({ Name: "dweb", IPv4Address: expect.stringContaining(`${ip}/`) })]);
    await until("the published port answers", async () => (await get("http://127.0.0.1:18282/hostname")).length > 0);
    expect((await d(["rm", "-f", "dweb"])).code).toBe(0);
    expect((await d(["network", "rm", "dnet"])).code).toBe(0);
  }, 60_000);
});

describe("daemon crashes", () => {
  test("kill -9 of berthd: a published port keeps answering; a container that exits meanwhile leaves nothing once the daemon is back", async () => {
    await ok(["network", "create", "crashnet"]);
    const id = (await httpd("survivor", "--network", "crashnet", "-p", "18383:80")).trim();
    await ok(["run", "-d", "--name", "shortlived", "--network", "crashnet", "-p", "18384:80", "bb", "sh", "-c", "sleep 1"]);
    await until("the port answers", async () => (await get("http://127.0.0.1:18383/hostname")) === `${id.slice(0, 12)}\n`);
    await stopDaemon(t, "SIGKILL");
    expect(await get("http://127.0.0.1:18383/hostname")).toBe(`${id.slice(0, 12)}\n`);
    await Bun.sleep(1500); // shortlived ends while no daemon runs
    expect((await ok(["ps", "--format", "{{.Names}}"])).trim()).toBe("survivor");
    expect(await get("http://127.0.0.1:18383/hostname")).toBe(`${id.slice(0, 12)}\n`);
    await until("only the survivor's veth is left", async () => rootLinks(t).veths.length === 1);
    expect(JSON.stringify(await (await import("./helpers/berth.ts")).portRules(t))).not.toContain("18384");
    await ok(["rm", "-f", "survivor", "shortlived"]);
  }, 60_000);
});
