// Build the bundle once before any test runs bin/berth, so parallel test
// files do not all rebuild it (in the v2 VM the checkout is read-only and
// the bundle comes prebuilt from the host).
export default function setup() {
  if (process.env.BERTH_V2VM) return;
  const p = Bun.spawnSync([new URL("../bin/build", import.meta.url).pathname], { stderr: "inherit" });
  if (p.exitCode !== 0) throw new Error("bin/build failed");
}
