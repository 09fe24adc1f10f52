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
