// The limits conformance suite against cgroup v2. Runs inside the pure-v2 VM:
//   BERTH_V2VM=1 ../shared/tools/run-in-v2vm.sh node_modules/.bin/bun --bun \
//     node_modules/.bin/vitest run test/limits-v2.v2vm.test.ts
// The checkout is read-only there: everything written goes to os.tmpdir().
import { describe, expect, test, vi } from "vitest";
import { probeHost } from "../core/host.ts";
import type { PluginContext } from "../core/registry.ts";
import { plugin as v1 } from "../plugins/limits/cgroup-v1/index.ts";
import { plugin as v2 } from "../plugins/limits/cgroup-v2/index.ts";
import { limitsConformance } from "./conformance/limits.ts";

// Emulated guest: code runs ~30x slower than on the host.
vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });

const host = probeHost();
const parent = `berth-test-${Math.random().toString(36).slice(2, 10)}`;

describe("cgroup probes on a pure cgroup v2 host", () => {
  test("cgroup-v2 is available; cgroup-v1 says which hierarchies are missing", () => {
    expect(host.cgroupMode).toBe("v2");
    expect(v2.probe(host)).toEqual({ ok: true });
    const p = v1.probe(host);
    expect(p).toEqual({ ok: false, reason: "no cgroup v1 hierarchy for memory, cpu, cpuacct, pids (no cgroup v1 hierarchy is mounted)" });
  });
});

limitsConformance("cgroup-v2", () =>
  v2.init({
    root: "/nonexistent",
    host,
    options: { "cgroup-parent": parent },
    get: () => Promise.reject(new Error("cgroup-v2 requires no other plugin")),
  } as PluginContext),
);
