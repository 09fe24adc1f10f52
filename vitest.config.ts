import { defineConfig } from "vitest/config";

// Tests run under Bun (`bun --bun vitest`), as root, on the real kernel.
// Files named *.v2vm.test.ts need a pure cgroup v2 kernel: .ci/run runs them
// inside ../shared/tools/run-in-v2vm.sh, so the host run leaves them out.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: process.env.BERTH_V2VM ? [] : ["test/**/*.v2vm.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
