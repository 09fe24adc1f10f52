// berth compose up and down: converge the stack on the model, and take it away.
import { applyPlan, removeContainer, stopTimeout, waitRunning, type ApplyContext } from "../../compose/apply.ts";
import { ensureImages, specsOf } from "../../compose/images.ts";
import type { Project } from "../../compose/model.ts";
import { dependenciesOf, planLines, planUp, targetServices, type Observed } from "../../compose/plan.ts";
import { invalidArgument } from "../../errors.ts";
import { trace } from "../../trace.ts";
import { isTerminal, print, printErr } from "../output.ts";
import { progressPrinter, type Compose, type ComposeCommand } from "./context.ts";
import { LogPrinter, shownName } from "./log-printer.ts";

export const up: ComposeCommand = {
  name: "up",
  usage: "up [OPTIONS] [SERVICE...]",
  summary: "Create and start containers",
  flags: [
    { name: "detach", short: "d", kind: "bool", help: "Detached mode: Run containers in the background" },
    { name: "build", kind: "bool", help: "Build images before starting containers" },
    { name: "pull", kind: "string", valueName: "string", help: "Pull image before running (\"always\"|\"missing\"|\"never\")" },
    { name: "force-recreate", kind: "bool", help: "Recreate containers even if their configuration and image haven't changed" },
    { name: "no-recreate", kind: "bool", help: "If containers already exist, don't recreate them" },
    { name: "no-deps", kind: "bool", help: "Don't start linked services" },
    { name: "remove-orphans", kind: "bool", help: "Remove containers for services not defined in the Compose file" },
    { name: "wait", kind: "bool", help: "Wait for services to be running|healthy. Implies detached mode" },
    { name: "scale", kind: "list", valueName: "scale", help: "Scale SERVICE to NUM instances. Overrides the scale setting in the Compose file if present" },
    { name: "abort-on-container-exit", kind: "bool", help: "Stops all containers if any container was stopped. Incompatible with -d" },
    { name: "exit-code-from", kind: "string", valueName: "string", help: "Return the exit code of the selected service container. Implies --abort-on-container-exit" },
    { name: "timeout", short: "t", kind: "string", valueName: "int", help: "Use this timeout in seconds for container shutdown when attached or when containers are already running" },
    { name: "no-color", kind: "bool", help: "Produce monochrome output" },
    { name: "no-log-prefix", kind: "bool", help: "Don't print prefix in logs" },
    { name: "quiet-pull", kind: "bool", help: "Pull without printing progress information" },
    { name: "watch", short: "w", kind: "bool", help: "Watch the services' develop.watch rules (with -d, the watch stays in the daemon)" },
  ],
  async run({ flags, args, compose }) {
    const detach = flags.bool("detach") || flags.bool("wait");
    const exitCodeFrom = flags.string("exit-code-from");
    const abort = flags.bool("abort-on-container-exit") || exitCodeFrom !== undefined;
    if (detach && abort) throw invalidArgument("--abort-on-container-exit and --detach are incompatible");
    const pull = flags.string("pull");
    if (pull !== undefined && !["always", "missing", "never"].includes(pull)) throw invalidArgument(`invalid --pull option "${pull}": use always, missing or never`);
    const timeout = seconds(flags.string("timeout"));
    const project = await compose.project(args);
    trace("compose up: loaded");
    const scale = parseScale(flags.list("scale"));
    const targets = [...targetServices(project, args, flags.bool("no-deps"))];
    if (exitCodeFrom !== undefined && !targets.includes(exitCodeFrom)) throw invalidArgument(`no such service: ${exitCodeFrom}`);
    const ctx = await compose.applyContext(project);
    const imageIds = await ensureImages(ctx.backend, project, targets, { build: flags.bool("build"), pull: pull as "always" | undefined, quiet: flags.bool("quiet-pull") }, ctx.progress);
    trace("compose up: images");
    ctx.specs = specsOf(project, imageIds);
    const observed = await ctx.backend.containers(project.name);
    trace("compose up: observed");
    const hashes = Object.fromEntries(Object.entries(ctx.specs).map(([n, s]) => [n, s.hash]));
    const plan = planUp(project, observed, hashes, { services: args, noDeps: flags.bool("no-deps"), forceRecreate: flags.bool("force-recreate"), noRecreate: flags.bool("no-recreate"), scale });
    if (compose.flags.bool("dry-run")) {
      print(planLines(plan, { removeOrphans: flags.bool("remove-orphans"), keep: true }).map((l) => `${l}\n`).join(""));
      return 0;
    }
    if (plan.orphans.length && !flags.bool("remove-orphans")) {
      printErr(`WARN[0000] Found orphan containers ([${plan.orphans.map((c) => c.name).join(" ")}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.\n`);
    }
    trace("compose up: planned");
    await applyPlan(ctx, plan, { removeOrphans: flags.bool("remove-orphans"), timeout });
    trace("compose up: applied");
    if (flags.bool("wait")) await waitRunning(ctx, targets);
    if (flags.bool("watch")) {
      const { startWatch } = await import("./watch.ts");
      if (detach) return startWatch(compose, args, true);
      void startWatch(compose, args, false); // its events interleave with the logs; it ends with this command
    }
    if (detach) return 0;
    return attach(compose, ctx, targets, { abort, exitCodeFrom, timeout, colour: colourWanted(compose, flags.bool("no-color")), prefix: !flags.bool("no-log-prefix") });
  },
};

/** Attached `up`: every container's output until they all stop; Ctrl+C stops them (twice: kills them). */
async function attach(compose: Compose, ctx: ApplyContext, services: string[], opts: { abort: boolean; exitCodeFrom?: string; timeout?: number; colour: boolean; prefix: boolean }): Promise<number> {
  const containers = (await compose.containers(services)).filter((c) => !c.oneoff);
  const backend = await compose.backend();
  const printer = new LogPrinter(backend.client, containers, { follow: true, colour: opts.colour, prefix: opts.prefix });
  print(`Attaching to ${containers.map(shownName).join(", ")}\n`);
  let stopping: Promise<unknown> | undefined;
  const stopAll = () =>
    (stopping ??= (async () => {
      printErr("Gracefully stopping... (press Ctrl+C again to force)\n");
      await Promise.all(containers.map(async (c) => {
        ctx.progress("Container", c.name, "Stopping");
        await backend.stop(c.id, stopTimeout(ctx.project.services[c.service], opts.timeout)).catch(() => undefined);
        ctx.progress("Container", c.name, "Stopped");
      }));
    })());
  let interrupts = 0;
  const onSignal = () => {
    if (++interrupts > 1) {
      for (const c of containers) void backend.kill(c.id).catch(() => undefined);
      return;
    }
    void stopAll();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  let exitCode = 0;
  let firstExit: { service: string; code: number } | undefined;
  await Promise.all(
    containers.map(async (c) => {
      await printer.stream(c).catch(() => undefined);
      const code = await backend.wait(c.id).catch(() => 0);
      printer.note(c, `${shownName(c)} exited with code ${code}`);
      firstExit ??= { service: c.service, code };
      if (opts.exitCodeFrom === c.service) exitCode = code;
      if (opts.abort && !stopping) {
        printErr(`Aborting on container exit...\n`);
        void stopAll();
      }
    }),
  );
  await stopping;
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  if (opts.abort && opts.exitCodeFrom === undefined) return firstExit?.code ?? 0;
  return interrupts > 0 ? 130 : exitCode;
}

export const down: ComposeCommand = {
  name: "down",
  usage: "down [OPTIONS] [SERVICES]",
  summary: "Stop and remove containers, networks",
  flags: [
    { name: "volumes", short: "v", kind: "bool", help: "Remove named volumes declared in the \"volumes\" section of the Compose file and anonymous volumes attached to containers" },
    { name: "rmi", kind: "string", valueName: "string", help: "Remove images used by services. \"local\" remove only images that don't have a custom tag (\"local\"|\"all\")" },
    { name: "remove-orphans", kind: "bool", help: "Remove containers for services not defined in the Compose file" },
    { name: "timeout", short: "t", kind: "string", valueName: "int", help: "Specify a shutdown timeout in seconds" },
  ],
  async run({ flags, args, compose }) {
    const rmi = flags.string("rmi");
    if (rmi !== undefined && rmi !== "local" && rmi !== "all") throw invalidArgument(`invalid --rmi option "${rmi}": use local or all`);
    const timeout = seconds(flags.string("timeout"));
    const name = await compose.projectName();
    const project = await compose.project().catch(() => undefined);
    const backend = await compose.backend();
    const ctx = { backend, progress: progressPrinter() };
    const all = await compose.containers(args, { oneoff: true });
    // Without a compose file every container of the project goes; with one, orphans only with --remove-orphans.
    const removable = all.filter((c) => !project || !!project.services[c.service] || flags.bool("remove-orphans") || c.oneoff);
    if (project && !flags.bool("remove-orphans")) {
      const orphans = all.filter((c) => !project.services[c.service] && !c.oneoff);
      if (orphans.length) printErr(`WARN[0000] Found orphan containers ([${orphans.map((c) => c.name).join(" ")}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.\n`);
    }
    if (compose.flags.bool("dry-run")) {
      print(removable.map((c) => `remove container ${c.name}\n`).join(""));
      return 0;
    }
    // A watch of the whole project ends with it (berthd's API; another daemon has none: 404).
    if (!args.length) await backend.client.call("DELETE", `/berth/compose/watch/${encodeURIComponent(name)}`).catch(() => undefined);
    // Dependants stop before what they depend on: reverse dependency order, in waves.
    await inReverseOrder(removable, project, (c) => removeContainer(ctx, c, stopTimeout(project?.services[c.service], timeout), flags.bool("volumes")));
    if (args.length) return 0; // `down SERVICE` leaves the project's networks and volumes
    for (const net of await backend.projectNetworks(name)) {
      ctx.progress("Network", net, "Removing");
      await backend.removeNetwork(net);
      ctx.progress("Network", net, "Removed");
    }
    if (flags.bool("volumes")) {
      for (const vol of await backend.projectVolumes(name)) {
        ctx.progress("Volume", vol, "Removing");
        await backend.removeVolume(vol);
        ctx.progress("Volume", vol, "Removed");
      }
    }
    if (rmi && project) {
      const images = new Set(Object.values(project.services).filter((s) => rmi === "all" || (s.build && !s.labels["com.docker.compose.image.custom"])).map((s) => s.image));
      for (const image of images) {
        ctx.progress("Image", image, "Removing");
        await backend.client.call("DELETE", `/images/${image}`).then(
          () => ctx.progress("Image", image, "Removed"),
          (err: Error) => printErr(`WARN[0000] ${image}: ${err.message}\n`),
        );
      }
    }
    return 0;
  },
};

/** Act on containers so that a service's dependants go before it; those in one wave in parallel. */
async function inReverseOrder(containers: Observed[], project: Project | undefined, act: (c: Observed) => Promise<void>) {
  let left = containers;
  while (left.length) {
    const services = new Set(left.map((c) => c.service));
    // A service goes now when no remaining service depends on it.
    const blocked = new Set<string>();
    for (const s of services) for (const dep of project ? dependenciesOf(project, s) : []) if (dep !== s) blocked.add(dep);
    let wave = left.filter((c) => !blocked.has(c.service));
    if (!wave.length) wave = left; // a cycle (refused when loading): everything at once
    await Promise.all(wave.map(act));
    left = left.filter((c) => !wave.includes(c));
  }
}

export function parseScale(list: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of list) {
    const m = /^([^=]+)=(\d+)$/.exec(s);
    if (!m) throw invalidArgument(`invalid --scale "${s}": use SERVICE=NUM`);
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

export function seconds(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  if (!/^-?\d+$/.test(s)) throw invalidArgument(`invalid timeout "${s}": a number of seconds`);
  return Number(s);
}

export function colourWanted(compose: Compose, noColour: boolean): boolean {
  const ansi = compose.flags.string("ansi");
  if (noColour || ansi === "never" || process.env.NO_COLOR) return false;
  return ansi === "always" || (ansi === "auto" && isTerminal(1));
}
