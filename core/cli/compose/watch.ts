// berth compose watch: bring the stack up, then have the daemon watch the
// services' develop.watch rules (core/compose/watch.ts). Attached, the
// watch's events print here and the watch ends with this command;
// --detach leaves it running in the daemon; --status shows the watches.
import type { WatchEvent, WatchStatus } from "../../compose/watch.ts";
import { isKind, notSupported } from "../../errors.ts";
import { parseArgs } from "../args.ts";
import type { Client } from "../client.ts";
import { table } from "../format.ts";
import { print, printErr } from "../output.ts";
import { lines } from "../streams.ts";
import type { Compose, ComposeCommand } from "./context.ts";
import { up } from "./up.ts";

export const watch: ComposeCommand = {
  name: "watch",
  usage: "watch [OPTIONS] [SERVICE...]",
  summary: "Watch the build contexts of the services and sync, rebuild or restart them when files change",
  flags: [
    { name: "no-up", kind: "bool", help: "Do not build and start the services before watching" },
    { name: "detach", short: "d", kind: "bool", help: "Leave the watch running in the daemon (it survives this terminal); stop it with --stop or down" },
    { name: "status", kind: "bool", help: "Show the watches the daemon runs, their rules and last events" },
    { name: "stop", kind: "bool", help: "Stop the project's detached watch" },
    { name: "quiet", kind: "bool", help: "Hide the build output" },
  ],
  async run({ flags, args, compose }) {
    const backend = await compose.backend();
    if (flags.bool("status")) return showStatus(backend.client);
    if (flags.bool("stop")) {
      await backend.client.call("DELETE", `/berth/compose/watch/${encodeURIComponent(await compose.projectName())}`);
      printErr(`Watch of ${await compose.projectName()} stopped\n`);
      return 0;
    }
    if (!flags.bool("no-up")) {
      const code = await up.run({ flags: parseArgs(["-d", ...(flags.bool("quiet") ? ["--quiet-pull"] : [])], up.flags).flags, args, compose });
      if (code !== 0) return code;
    }
    return startWatch(compose, args, flags.bool("detach"));
  },
};

/** Ask the daemon to watch; attached, print its events until interrupted. */
export async function startWatch(compose: Compose, services: string[], detach: boolean): Promise<number> {
  const backend = await compose.backend();
  const res = await backend.client.call("POST", "/berth/compose/watch", { json: { load: compose.loadOptions(services), services, detach } }).catch((err) => {
    // Another Docker-compatible daemon has no such route.
    if (isKind(err, "NotFound") && /page not found/i.test((err as Error).message)) throw notSupported("this daemon has no watch mode: berth compose watch runs in berthd", "point berth at berthd (--root, or -H unix:///run/berth/berth.sock)");
    throw err;
  });
  if (detach) {
    const status = (await res.json()) as WatchStatus;
    printErr(`Watching ${status.services.map((s) => s.service).join(", ")} in the daemon; \`berth compose watch --status\` shows it, --stop ends it\n`);
    return 0;
  }
  printErr("Watch enabled (Ctrl+C to stop)\n");
  const done = new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  const reading = (async () => {
    for await (const l of lines(res.body as unknown as AsyncIterable<Uint8Array>)) showEvent(JSON.parse(l) as WatchEvent);
  })();
  await Promise.race([done, reading]);
  return 0;
}

function showEvent(e: WatchEvent) {
  const line = `${e.time.slice(11, 23)} ${e.service ? `[${e.service}] ` : ""}${e.message}\n`;
  if (e.error) printErr(line);
  else print(line);
}

async function showStatus(client: Client): Promise<number> {
  const list = await client.json<WatchStatus[]>("GET", "/berth/compose/watch");
  if (!list.length) {
    print("No watch is running\n");
    return 0;
  }
  for (const w of list) {
    print(`${w.project}: watching since ${w.since}${w.detached ? " (detached)" : ""}\n`);
    print(table(["SERVICE", "ACTION", "PATH", "TARGET"], w.services.flatMap((s) => s.rules.map((r) => [s.service, r.action, r.path, r.target ?? ""]))));
    for (const e of w.events.slice(-5)) print(`  ${e.time.slice(11, 23)} ${e.service ? `[${e.service}] ` : ""}${e.message}\n`);
  }
  return 0;
}
