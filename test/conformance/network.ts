// The network driver conformance suite: every network plugin runs it. A
// driver that makes networks (createNetwork) gets a test network on a subnet
// that overlaps nothing of the host's; containers are stood in for by
// network namespaces the suite makes. All traffic stays in those namespaces.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { Endpoint, NetworkConfig, NetworkDriver } from "../../core/contracts/network.ts";
import { randomHex } from "../../core/ids.ts";
import { hostSubnets } from "../../core/network/host-routes.ts";
import { pickSubnet } from "../../core/network/ipam.ts";
import { createNetns, removeNetns } from "../../core/sys/netns.ts";
import { libcSys } from "../../core/sys/libc.ts";

const sh = (argv: string[]) => Bun.spawnSync(argv).stdout.toString().trim();
const linksIn = (ns: string | null) => (ns ? sh(["nsenter", `--net=${ns}`, "ip", "-o", "link"]) : sh(["ip", "-o", "link"])).split("\n");
const hostLinkNames = () => linksIn(null).map((l) => l.split(": ")[1]!.split("@")[0]!);

export function networkConformance(name: string, make: () => Promise<NetworkDriver>) {
  describe(`network driver conformance: ${name}`, () => {
    let d: NetworkDriver;
    let work: string;
    let net: NetworkConfig;
    beforeAll(async () => {
      d = await make();
      mkdirSync("/tmp/berth-tests", { recursive: true });
      work = mkdtempSync("/tmp/berth-tests/net-");
      const { subnet, gateway } = pickSubnet(hostSubnets());
      net = { id: randomHex(32), name: `conf-${name}`, driver: name, subnet, gateway, internal: false, mtu: 1500, options: {} };
    });
    afterAll(() => rmSync(work, { recursive: true, force: true }));

    const endpoint = (containerId: string, netnsPath: string | null, address?: string): Endpoint => ({
      containerId,
      network: net,
      netnsPath,
      ifname: "eth0",
      address,
      mac: address ? "02:42:0a:00:00:02" : undefined,
      ports: [],
    });

    test("declares where a container's namespace comes from", () => {
      expect(["host", "private", "shared"]).toContain(d.namespace);
    });

    test("creating its network twice is harmless; removing it removes what it made, twice too", async () => {
      if (!d.createNetwork) return expect(d.removeNetwork).toBeUndefined();
      const before = hostLinkNames();
      await d.createNetwork(net);
      await d.createNetwork(net);
      const made = hostLinkNames().filter((l) => !before.includes(l));
      expect(made).toHaveLength(1); // one bridge, with the gateway on it
      expect(sh(["ip", "-o", "-4", "addr", "show", "dev", made[0]!])).toContain(`${net.gateway}/${net.subnet!.split("/")[1]}`);
      await d.removeNetwork!(net);
      await d.removeNetwork!(net);
      expect(hostLinkNames()).toEqual(before);
    });

    test("attach connects a container; detach undoes it and may be repeated; nothing is left on the host", async () => {
      const hostLinksBefore = hostLinkNames();
      const ns = d.namespace === "private" ? `${work}/ns-a` : null;
      if (ns) createNetns(libcSys, ns);
      await d.createNetwork?.(net);
      const address = d.createNetwork ? net.gateway!.replace(/\.1$/, ".2") : undefined;
      const ep = endpoint(`conf${randomHex(30)}`, ns, address);
      try {
        await checkAttached(ep, ns, address);
      } finally {
        await d.detach(ep);
        await d.removeNetwork?.(net);
        if (ns) removeNetns(libcSys, ns);
      }
      expect(hostLinkNames()).toEqual(hostLinksBefore);
      if (ns) expect(existsSync(ns)).toBe(false);
      expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(work);
    });

    async function checkAttached(ep: Endpoint, ns: string | null, address: string | undefined) {
      const att = await d.attach(ep);
      expect(Array.isArray(att.hostsEntries)).toBe(true);
      expect(att.useHostFiles).toBe(d.namespace === "host");
      if (ns) {
        const links = linksIn(ns);
        expect(links.some((l) => /: lo: <LOOPBACK,UP/.test(l))).toBe(true);
        if (address) {
          // An interface with its address and the way out through the gateway, reaching the gateway.
          expect(sh(["nsenter", `--net=${ns}`, "ip", "-o", "-4", "addr", "show", "dev", "eth0"])).toContain(`${address}/`);
          expect(sh(["nsenter", `--net=${ns}`, "ip", "route", "show", "default"])).toContain(`via ${net.gateway} dev eth0`);
          expect(Bun.spawnSync(["nsenter", `--net=${ns}`, "busybox", "ping", "-c", "1", "-W", "2", net.gateway!]).exitCode).toBe(0);
        }
      }
      await d.detach(ep);
      await d.detach(ep);
      if (ns) expect(linksIn(ns).filter((l) => !/: lo:/.test(l))).toEqual([]);
    }

    test("detach of a container that was never attached succeeds", async () => {
      await d.createNetwork?.(net);
      await d.detach(endpoint(`never${randomHex(29)}`, null));
      await d.removeNetwork?.(net);
    });
  });
}
