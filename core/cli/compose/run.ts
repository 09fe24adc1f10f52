// berth compose exec, run, pull, push, build: a command in a service's
// container, a one-off container of a service, and the stack's images.
import { applyPlan, createReplica, ensureResources, waitRunning } from "../../compose/apply.ts";
import { ensureImages, specsOf } from "../../compose/images.ts";
import { planUp, targetServices } from "../../compose/plan.ts";
import { invalidArgument, notFound } from "../../errors.ts";
import { runCommand } from "../main.ts";
import { isTerminal, print } from "../output.ts";
import type { ComposeCommand } from "./context.ts";

export const exec: ComposeCommand = {
  name: "exec",
  usage: "exec [OPTIONS] SERVICE COMMAND [ARGS...]",
  summary: "Execute a command in a running container",
  flags: [
    { name: "detach", short: "d", kind: "bool", help: "Detached mode: Run command in the background" },
    { name: "env", short: "e", kind: "list", valueName: "stringArray", help: "Set environment variables" },
    { name: "user", short: "u", kind: "string", help: "Run the command as this user" },
    { name: "workdir", short: "w", kind: "string", help: "Path to workdir directory for this command" },
    { name: "no-TTY", short: "T", kind: "bool", help: "Disable pseudo-TTY allocation. By default `exec` allocates a TTY" },
    { name: "index", kind: "string", valueName: "int", default: "1", help: "Index of the container if service has multiple replicas" },
    { name: "privileged", kind: "bool", help: "Give extended privileges to the process" },
  ],
  stopAtPositional: true,
  minArgs: 2,
  async run({ flags, args, compose }) {
    const [service, ...cmd] = args as [string, ...string[]];
    const index = Number(flags.string("index"));
    const c = (await compose.containers([service])).find((x) => x.number === index && x.state === "running");
    if (!c) throw notFound(`service "${service}" is not running container #${index}`, `start it: berth compose up -d ${service}`);
    const tty = !flags.bool("no-TTY") && isTerminal(0) && isTerminal(1);
    const execArgs = [
      ...(flags.bool("detach") ? ["-d"] : ["-i"]),
      ...(tty ? ["-t"] : []),
      ...flags.list("env").flatMap((e) => ["-e", e]),
      ...(flags.string("user") ? ["-u", flags.string("user")!] : []),
      ...(flags.string("workdir") ? ["-w", flags.string("workdir")!] : []),
      ...(flags.bool("privileged") ? ["--privileged"] : []),
      c.id,
      ...cmd,
    ];
    const { command } = await import("../commands/exec.ts");
    return runCommand("berth compose", command, execArgs, compose.global);
  },
};

export const run: ComposeCommand = {
  name: "run",
  usage: "run [OPTIONS] SERVICE [COMMAND] [ARGS...]",
  summary: "Run a one-off command on a service",
  flags: [
    { name: "detach", short: "d", kind: "bool", help: "Run container in background and print container ID" },
    { name: "rm", kind: "bool", help: "Automatically remove the container when it exits" },
    { name: "name", kind: "string", help: "Assign a name to the container" },
    { name: "env", short: "e", kind: "list", valueName: "stringArray", help: "Set environment variables" },
    { name: "user", short: "u", kind: "string", help: "Run as specified username or uid" },
    { name: "workdir", short: "w", kind: "string", help: "Working directory inside the container" },
    { name: "entrypoint", kind: "string", help: "Override the entrypoint of the image" },
    { name: "no-TTY", short: "T", kind: "bool", help: "Disable pseudo-TTY allocation (default: auto-detected)" },
    { name: "no-deps", kind: "bool", help: "Don't start linked services" },
    { name: "publish", short: "p", kind: "list", valueName: "stringArray", help: "Publish a container's port(s) to the host" },
    { name: "service-ports", kind: "bool", help: "Run command with all service's ports enabled and mapped to the host" },
    { name: "build", kind: "bool", help: "Build image before starting container" },
  ],
  stopAtPositional: true,
  minArgs: 1,
  async run({ flags, args, compose }) {
    const [serviceName, ...cmd] = args as [string, ...string[]];
    if (flags.list("publish").length) throw invalidArgument("berth compose run does not take --publish: declare the ports in the service and use --service-ports");
    const project = await compose.project([serviceName]);
    const service = project.services[serviceName];
    if (!service) throw notFound(`no such service: ${serviceName}`);
    const ctx = await compose.applyContext(project);
    // The service's dependencies are brought up first, as `up` would.
    const deps = flags.bool("no-deps") ? [] : [...targetServices(project, [serviceName])].filter((s) => s !== serviceName);
    const ids = await ensureImages(ctx.backend, project, [...deps, serviceName], { build: flags.bool("build") }, ctx.progress);
    ctx.specs = specsOf(project, ids);
    if (deps.length) {
      const observed = await ctx.backend.containers(project.name);
      const hashes = Object.fromEntries(Object.entries(ctx.specs).map(([n, s]) => [n, s.hash]));
      const plan = planUp(project, observed, hashes, { services: deps, noDeps: true });
      await applyPlan(ctx, plan);
      const healthGated = Object.entries(service.depends_on).filter(([, d]) => d.condition === "service_healthy").map(([n]) => n);
      if (healthGated.length) await waitRunning(ctx, healthGated);
    } else await ensureResources(ctx, [serviceName]);
    const tty = !flags.bool("no-TTY") && isTerminal(0) && isTerminal(1) && !flags.bool("detach");
    const name = flags.string("name") ?? `${project.name}-${serviceName}-run-${Math.random().toString(16).slice(2, 14)}`;
    const extraEnv = flags.list("env");
    const id = await createReplica(ctx, service, 1, {
      oneoff: true,
      name,
      override: (req) => ({
        ...req,
        Cmd: cmd.length ? cmd : req.Cmd,
        Entrypoint: flags.string("entrypoint") !== undefined ? [flags.string("entrypoint")!] : req.Entrypoint,
        Env: [...(req.Env ?? []), ...extraEnv],
        User: flags.string("user") ?? req.User,
        WorkingDir: flags.string("workdir") ?? req.WorkingDir,
        Tty: tty,
        OpenStdin: !flags.bool("detach"),
        AttachStdin: !flags.bool("detach"),
        AttachStdout: !flags.bool("detach"),
        AttachStderr: !flags.bool("detach"),
        // One-offs do not restart and publish ports only with --service-ports (as Compose).
        HostConfig: { ...req.HostConfig, RestartPolicy: { Name: "no" }, PortBindings: flags.bool("service-ports") ? req.HostConfig?.PortBindings : undefined, AutoRemove: flags.bool("rm") },
      }),
    });
    if (flags.bool("detach")) {
      await ctx.backend.start(id);
      print(`${id}\n`);
      return 0;
    }
    const { command } = await import("../commands/start.ts");
    return runCommand("berth compose", command, ["-a", "-i", id], compose.global);
  },
};

function imageCommand(name: "pull" | "push" | "build", summary: string, flags: ComposeCommand["flags"]): ComposeCommand {
  return {
    name,
    usage: `${name} [OPTIONS] [SERVICE...]`,
    summary,
    flags,
    async run({ flags, args, compose }) {
      const project = await compose.project(args);
      const targets = [...targetServices(project, args, true)];
      const ctx = await compose.applyContext(project);
      if (name === "build") {
        for (const s of targets.map((t) => project.services[t]!).filter((s) => s.build)) {
          const b = { ...s.build!, no_cache: flags.bool("no-cache") || s.build!.no_cache, pull: flags.bool("pull") || s.build!.pull };
          await ctx.backend.build(s.image, b, flags.bool("quiet"));
        }
        return 0;
      }
      const wanted = targets.map((t) => project.services[t]!).filter((s) => (name === "pull" ? !s.build || s.pull_policy === "always" : !!s.build || s.image));
      await Promise.all(
        [...new Set(wanted.map((s) => s.image))].map(async (image) => {
          ctx.progress("Image", image, name === "pull" ? "Pulling" : "Pushing");
          try {
            await (name === "pull" ? ctx.backend.pull(image) : ctx.backend.push(image));
            ctx.progress("Image", image, name === "pull" ? "Pulled" : "Pushed");
          } catch (err) {
            if (!flags.bool("ignore-pull-failures") && !flags.bool("ignore-push-failures")) throw err;
            ctx.progress("Image", image, `Error: ${(err as Error).message}`);
          }
        }),
      );
      return 0;
    },
  };
}

export const pull = imageCommand("pull", "Pull service images", [
  { name: "ignore-pull-failures", kind: "bool", help: "Pull what it can and ignores images with pull failures" },
  { name: "quiet", short: "q", kind: "bool", help: "Pull without printing progress information" },
]);
export const push = imageCommand("push", "Push service images", [
  { name: "ignore-push-failures", kind: "bool", help: "Push what it can and ignores images with push failures" },
  { name: "quiet", short: "q", kind: "bool", help: "Push without printing progress information" },
]);
export const build = imageCommand("build", "Build or rebuild services", [
  { name: "no-cache", kind: "bool", help: "Do not use cache when building the image" },
  { name: "pull", kind: "bool", help: "Always attempt to pull a newer version of the image" },
  { name: "quiet", short: "q", kind: "bool", help: "Don't print anything to STDOUT" },
]);
