import { afterAll, expect } from "vitest";
import { readFileSync } from "node:fs";
import type { Isolation } from "../core/contracts/isolation.ts";
import { isolationConformance } from "./conformance/isolation.ts";
import { pluginInstance } from "./helpers/plugins.ts";

const made: Isolation[] = [];
isolationConformance("namespaces", async () => {
  const iso = await pluginInstance("isolation", "namespaces", "/tmp/berth-tests");
  made.push(iso);
  return iso;
});

// The plugin's read-only view of its runtime is the daemon's to release when it stops: here, this file's.
afterAll(() => {
  for (const iso of made) iso.release?.();
  expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(" /tmp/berth-tests/runtime/bun ");
});
