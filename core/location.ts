// Where berth's own files are: the checkout, and whether this code runs
// from the bundle that bin/build makes (.build/cli/main.js).
import { dirname } from "node:path";

declare const BERTH_BUNDLE: boolean | undefined;

export const BUNDLED = typeof BERTH_BUNDLE !== "undefined" && BERTH_BUNDLE;

// In the bundle, import.meta.url still names the source file: locate from the entry script instead.
const bundleDir = BUNDLED ? dirname(Bun.main) : "";

/** The checkout (the directory holding package.json), without a trailing slash. */
export const BERTH_HOME = BUNDLED ? dirname(dirname(bundleDir)) : new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** The container init script: the bundle's own when bundled, else the source. */
export const INIT_SCRIPT = BUNDLED ? `${dirname(bundleDir)}/init/init.js` : `${BERTH_HOME}/plugins/isolation/namespaces/init.ts`;

export const DEFAULT_ROOT = "/var/lib/berth";

/** /run/berth for the default root; for others a short per-root directory under /run. */
export function defaultExecRoot(root: string): string {
  if (root === DEFAULT_ROOT) return "/run/berth";
  const hash = new Bun.CryptoHasher("sha256").update(root).digest("hex").slice(0, 10);
  return `/run/berth-${hash}`;
}

/** The socket berthd listens on for a root: /run/berth/berth.sock for the default root. */
export function defaultSocket(root: string): string {
  return `${defaultExecRoot(root.replace(/\/+$/, ""))}/berth.sock`;
}

/** The daemon's entry: the bundle's own when bundled, else the source. */
export const DAEMON_SCRIPT = BUNDLED ? `${dirname(bundleDir)}/daemon/main.js` : `${BERTH_HOME}/core/daemon/main.ts`;

/** PID 1 of --init containers, bind-mounted at /sbin/docker-init as Docker does; built by bin/build. */
export const INIT_BINARY = BUNDLED ? `${dirname(bundleDir)}/berth-init` : `${BERTH_HOME}/.build/berth-init`;
/** The monitor binary, built by bin/build next to the bundle (or in .build for the sources). */
export const MONITOR_BINARY = BUNDLED ? `${dirname(bundleDir)}/berth-monitor` : `${BERTH_HOME}/.build/berth-monitor`;
/** Pins user namespaces and makes idmapped mounts for --userns-remap; built by bin/build. */
export const USERNS_HELPER = BUNDLED ? `${dirname(bundleDir)}/berth-userns` : `${BERTH_HOME}/.build/berth-userns`;
