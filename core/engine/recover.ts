// What berthd does when it starts: take back the containers whose monitors
// outlived the previous daemon, record the exits that happened meanwhile,
// remove what a crash left half-made, then start the containers whose
// restart policy says so.
import { existsSync, readdirSync, rmSync } from "node:fs";
import type { Supervised } from "../contracts/isolation.ts";
import { parseMountinfo } from "../host.ts";
import { isSameProcess } from "../proc.ts";
import { libcSys } from "../sys/libc.ts";
import { removeNetns } from "../sys/netns.ts";
import type { Engine } from "./engine.ts";
import { handleExit, releaseResources, scheduleRestart } from "./exit.ts";
import { startHealthChecks } from "./health.ts";
import { watchExit } from "./start.ts";

export async function recover(engine: Engine) {
  const isolation = await engine.plugin("isolation");
  for (const rec of engine.list()) {
    if (rec.Creating) {
      // A create cut short by a crash: drop what it made.
      await (await engine.storage(rec.Driver)).removeWritable(rec.Id).catch(() => {});
      rmSync(engine.containerDir(rec.Id), { recursive: true, force: true });
      engine.forget(rec.Id);
      continue;
    }
    const dir = engine.monitorDir(rec.Id);
    if (!rec.State.Running && !existsSync(dir)) continue;
    const found = isolation.adopt(dir, rec.State.Pid);
    if (found && "attach" in found && !rec.State.Running) {
      // A start cut short by the crash: its client was told it failed, so
      // nothing of it may run on. The container stays as it was before.
      await (await engine.plugin("limits")).killAll(rec.Id).catch(() => {});
      await found.abort();
      await releaseResources(engine, rec);
      rmSync(dir, { recursive: true, force: true });
    } else if (found && "attach" in found) {
      engine.rt(rec.Id).proc = found as Supervised;
      watchExit(engine, rec);
      startHealthChecks(engine, rec);
    } else if (found) {
      await handleExit(engine, rec.Id, undefined, found);
    } else {
      // Nothing tells how it ended: its processes are killed with the cgroup.
      if (isSameProcess(rec.State.Pid, rec.PidStartTime)) await (await engine.plugin("limits")).killAll(rec.Id).catch(() => {});
      await handleExit(engine, rec.Id, undefined, { code: 137, error: "the container's monitor was gone when berthd started" });
    }
  }
  await removeLeftovers(engine);
  for (const rec of engine.list()) {
    const p = rec.HostConfig.RestartPolicy?.Name;
    const wanted = p === "always" || (p === "unless-stopped" && !rec.ManuallyStopped);
    // Not running and no back-off timer (a container in its back-off when the daemon died has none now).
    if (wanted && !engine.rt(rec.Id).proc && !engine.rt(rec.Id).restartTimer) {
      rec.ManuallyStopped = false;
      rec.State.Restarting = false;
      scheduleRestart(engine, rec);
    }
  }
}

/** Mounts, cgroups, namespaces and directories no live container accounts for. */
async function removeLeftovers(engine: Engine) {
  const running = new Set([...engine.containers.values()].filter((c) => engine.rt(c.Id).proc).map((c) => c.Id));
  const known = new Set(engine.containers.keys());
  const limits = await engine.plugin("limits");
  for (const id of limits.ids()) if (!running.has(id)) await limits.remove(id).catch(() => {});
  for (const f of safeList(`${engine.root}/netns`)) if (!running.has(f)) removeNetns(libcSys, `${engine.root}/netns/${f}`);
  for (const m of parseMountinfo(await Bun.file("/proc/self/mountinfo").text()).reverse()) {
    const id = /\/rw\/([a-f0-9]{64})\/merged$/.exec(m.mountpoint)?.[1];
    if (id && m.mountpoint.startsWith(engine.root) && !running.has(id)) {
      const rec = engine.containers.get(id);
      await (await engine.storage(rec?.Driver)).unmount(id).catch(() => {});
    }
  }
  for (const id of safeList(`${engine.execRoot}/c`)) if (!known.has(id) || !running.has(id)) rmSync(`${engine.execRoot}/c/${id}`, { recursive: true, force: true });
  for (const id of safeList(`${engine.execRoot}/e`)) rmSync(`${engine.execRoot}/e/${id}`, { recursive: true, force: true });
  for (const id of safeList(`${engine.root}/containers`)) if (!known.has(id)) rmSync(`${engine.root}/containers/${id}`, { recursive: true, force: true });
  // Writable layers of no container: removed containers' that a crash interrupted, a build's looks into an image.
  for (const storage of [await engine.storage(), ...(await engine.otherStorage())]) {
    for (const id of storage.writables()) if (!known.has(id)) await storage.removeWritable(id).catch(() => {});
  }
  for (const f of safeList(`${engine.root}/blobs/ingest`)) rmSync(`${engine.root}/blobs/ingest/${f}`, { force: true });
  // Builds' unpacked contexts and heredocs: a build does not survive its daemon.
  for (const f of safeList(`${engine.root}/tmp`)) rmSync(`${engine.root}/tmp/${f}`, { recursive: true, force: true });
  const gc = await (await engine.images()).collectGarbage();
  if (gc.layers || gc.blobs) console.error(`berthd: removed ${gc.layers} layers and ${gc.blobs} blobs no image uses (left by an interrupted pull, load or commit)`);
  for (const driver of safeList(`${engine.root}/layers`)) {
    for (const f of safeList(`${engine.root}/layers/${driver}`)) {
      if (f.startsWith(".tmp-")) rmSync(`${engine.root}/layers/${driver}/${f}`, { recursive: true, force: true });
    }
  }
  reportOtherDrivers(engine);
}

/** After a --storage-driver change: say which containers stay on the driver they were made with. */
function reportOtherDrivers(engine: Engine) {
  const current = engine.pluginName("storage");
  const counts = new Map<string, number>();
  for (const rec of engine.list()) if (rec.Driver !== current) counts.set(rec.Driver, (counts.get(rec.Driver) ?? 0) + 1);
  for (const [driver, n] of counts) {
    const status = engine.registry.status("storage").find((p) => p.name === driver);
    const they = n === 1 ? "it" : "they";
    const fate = status?.available
      ? `${they} keep${n === 1 ? "s" : ""} using it; new containers use ${current}, with images unpacked again from the content store`
      : `${driver} cannot run here (${status?.reason ?? "unknown driver"}), so ${they} cannot start until it can: remove ${n === 1 ? "it" : "them"} with \`berth rm\``;
    console.error(`berthd: storage driver ${current}: ${n} container${n === 1 ? " was" : "s were"} created with ${driver}: ${fate}`);
  }
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
