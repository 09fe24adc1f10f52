// berth compose start, stop, restart, kill, rm, pause, unpause: one
// operation on the project's containers (of the named services), in
// dependency order for start, in reverse for stop.
import { dependencyOrder, withRestartDependants, type Observed } from "../../compose/plan.ts";
import { stopTimeout, removeContainer } from "../../compose/apply.ts";
import type { Project } from "../../compose/model.ts";
import { confirm } from "../confirm.ts";
import { printErr } from "../output.ts";
import { progressPrinter, type Compose, type ComposeCommand } from "./context.ts";
import { seconds } from "./up.ts";

type Op = (c: Observed, project: Project | undefined) => Promise<void>;

/** The containers grouped by service in dependency order (reversed for stopping); each group at once. */
async function inOrder(compose: Compose, containers: Observed[], reverse: boolean, op: Op) {
  const project = await compose.project().catch(() => undefined);
  const order = project ? dependencyOrder(project) : [...new Set(containers.map((c) => c.service))].sort();
  if (reverse) order.reverse();
  const rest = containers.filter((c) => !order.includes(c.service));
  for (const s of order) await Promise.all(containers.filter((c) => c.service === s).map((c) => op(c, project)));
  await Promise.all(rest.map((c) => op(c, project)));
}

const say = progressPrinter();

function simple(name: string, summary: string, verb: [string, string], reverse: boolean, pick: (c: Observed) => boolean, act: (compose: Compose, c: Observed, flags: import("../args.ts").ParsedFlags, project: Project | undefined) => Promise<void>, flags: ComposeCommand["flags"] = [], expand?: (project: Project, services: string[]) => string[]): ComposeCommand {
  return {
    name,
    usage: `${name} [OPTIONS] [SERVICE...]`,
    summary,
    flags,
    async run({ flags, args, compose }) {
      const project = expand && args.length ? await compose.project().catch(() => undefined) : undefined;
      const services = project ? expand!(project, args) : args;
      const containers = (await compose.containers(services)).filter(pick);
      await inOrder(compose, containers, reverse, async (c, project) => {
        say("Container", c.name, verb[0]);
        await act(compose, c, flags, project);
        say("Container", c.name, verb[1]);
      });
      return 0;
    },
  };
}

const running = (c: Observed) => c.state === "running" || c.state === "restarting" || c.state === "paused";
const timeoutFlag = { name: "timeout", short: "t", kind: "string" as const, valueName: "int", help: "Specify a shutdown timeout in seconds" };

export const start = simple("start", "Start services", ["Starting", "Started"], false, (c) => !running(c), async (compose, c) => (await compose.backend()).start(c.id));

export const stop = simple("stop", "Stop services", ["Stopping", "Stopped"], true, running, async (compose, c, flags, project) => (await compose.backend()).stop(c.id, stopTimeout(project?.services[c.service], seconds(flags.string("timeout")))), [timeoutFlag]);

// Services that depend on a restarted one with `restart: true` restart too.
export const restart = simple("restart", "Restart service containers", ["Restarting", "Started"], false, () => true, async (compose, c, flags, project) => (await compose.backend()).restart(c.id, stopTimeout(project?.services[c.service], seconds(flags.string("timeout")))), [timeoutFlag], withRestartDependants);

export const kill = simple("kill", "Force stop service containers", ["Killing", "Killed"], true, running, async (compose, c, flags) => (await compose.backend()).kill(c.id, flags.string("signal")), [
  { name: "signal", short: "s", kind: "string", default: "SIGKILL", help: "SIGNAL to send to the container" },
]);

export const pause = simple("pause", "Pause services", ["Pausing", "Paused"], false, (c) => c.state === "running", async (compose, c) => (await compose.backend()).pause(c.id));

export const unpause = simple("unpause", "Unpause services", ["Unpausing", "Unpaused"], false, (c) => c.state === "paused", async (compose, c) => (await compose.backend()).unpause(c.id));

export const rm: ComposeCommand = {
  name: "rm",
  usage: "rm [OPTIONS] [SERVICE...]",
  summary: "Removes stopped service containers",
  flags: [
    { name: "force", short: "f", kind: "bool", help: "Don't ask to confirm removal" },
    { name: "stop", short: "s", kind: "bool", help: "Stop the containers, if required, before removing" },
    { name: "volumes", short: "v", kind: "bool", help: "Remove any anonymous volumes attached to containers" },
  ],
  async run({ flags, args, compose }) {
    const all = await compose.containers(args, { oneoff: true });
    const victims = flags.bool("stop") ? all : all.filter((c) => !running(c));
    if (!victims.length) {
      printErr("No stopped containers\n");
      return 0;
    }
    if (!flags.bool("force") && !(await confirm(`Going to remove ${victims.map((c) => c.name).join(", ")}`))) return 0;
    const backend = await compose.backend();
    await inOrder(compose, victims, true, async (c, project) => {
      if (flags.bool("volumes") && !running(c)) {
        say("Container", c.name, "Removing");
        await backend.remove(c.id, { force: true, volumes: true });
        say("Container", c.name, "Removed");
      } else await removeContainer({ backend, progress: say }, c, stopTimeout(project?.services[c.service]), flags.bool("volumes"));
    });
    return 0;
  },
};
