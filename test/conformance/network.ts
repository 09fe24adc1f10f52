// The network driver conformance suite: every network plugin runs it.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { NetworkDriver } from "../../core/contracts/network.ts";
import { createNetns, removeNetns } from "../../core/sys/netns.ts";
import { libcSys } from "../../core/sys/libc.ts";

const linksIn = (ns: string | null) =>
  Bun.spawnSync(ns ? ["nsenter", `--net=${ns}`, "ip", "-o", "link"] : ["ip", "-o", "link"]).stdout.toString().trim().split("\n");

export function networkConformance(name: string, make: () => Promise<NetworkDriver>) {
  describe(`network driver conformance: ${name}`, () => {
    let d: NetworkDriver;
    let work: string;
    beforeAll(async () => {
      d = await make();
      mkdirSync("/tmp/berth-tests", { recursive: true });
      work = mkdtempSync("/tmp/berth-tests/net-");
    });
    afterAll(() => rmSync(work, { recursive: true, force: true }));

    test("declares whether containers get their own namespace", () => {
      expect(["host", "private"]).toContain(d.namespace);
    });

    test("attach gives the container its network; detach undoes it and may be repeated", async () => {
      const hostLinksBefore = linksIn(null);
      const ns = d.namespace === "private" ? `${work}/ns-a` : null;
      if (ns) createNetns(libcSys, ns);
      const att = await d.attach("conf-a", ns);
      expect(Array.isArray(att.hostsEntries)).toBe(true);
      expect(att.useHostFiles).toBe(d.namespace === "host");
      if (ns) {
        const links = linksIn(ns);
        expect(links.some((l) => /: lo: <LOOPBACK,UP/.test(l))).toBe(true);
      }
      await d.detach("conf-a");
      await d.detach("conf-a");
      if (ns) removeNetns(libcSys, ns);
      expect(linksIn(null)).toEqual(hostLinksBefore);
      if (ns) expect(existsSync(ns)).toBe(false);
      expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(work);
    });

    test("detach of a container that was never attached succeeds", async () => {
      await d.detach("never-attached");
    });
  });
}
