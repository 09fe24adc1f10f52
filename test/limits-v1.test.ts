// The limits conformance suite against cgroup v1 on this (hybrid) host, plus
// the probes of both cgroup plugins as this host answers them.
import { describe, expect, test } from "vitest";
import { probeHost } from "../core/host.ts";
import type { PluginContext } from "../core/registry.ts";
import { plugin as v1 } from "../plugins/limits/cgroup-v1/index.ts";
import { plugin as v2 } from "../plugins/limits/cgroup-v2/index.ts";
import { limitsConformance } from "./conformance/limits.ts";

const host = probeHost();
const parent = `berth-test-${Math.random().toString(36).slice(2, 10)}`;

describe("cgroup probes on this host", () => {
  test("cgroup-v1 is available: memory, cpu, cpuacct and pids hierarchies are mounted", () => {
    for (const c of ["memory", "cpu", "cpuacct", "pids"]) expect(host.cgroupV1.has(c), c).toBe(true);
    expect(v1.probe(host)).toEqual({ ok: true });
  });

  test("cgroup-v2 says what the cgroup2 mount offers when it lacks memory, cpu or pids", () => {
    const h = host.cgroupV2;
    const probe = v2.probe(host);
    if (!h) {
      expect(probe).toEqual({ ok: false, reason: "no cgroup2 filesystem is mounted" });
    } else {
      expect(h.controllers).not.toContain("memory");
      expect(probe.ok).toBe(false);
      expect(probe.ok === false && probe.reason).toMatch(
        new RegExp(`^cgroup2 at ${h.mountpoint} offers only \\[${h.controllers.join(" ")}\\]`),
      );
    }
  });
});

limitsConformance("cgroup-v1", () =>
  v1.init({
    root: "/nonexistent",
    host,
    options: { "cgroup-parent": parent },
    get: () => Promise.reject(new Error("cgroup-v1 requires no other plugin")),
  } as PluginContext),
);
