// What every `berth compose` subcommand shares: the compose flags (-f, -p,
// --project-directory, --env-file, --profile), loading the project, the
// backend on berthd, and Docker Compose's progress lines.
import { invalidArgument, isKind } from "../../errors.ts";
import type { ApplyContext, Progress } from "../../compose/apply.ts";
import { EngineBackend } from "../../compose/engine-backend.ts";
import { loadProject, type LoadOptions } from "../../compose/loader/index.ts";
import type { Project } from "../../compose/model.ts";
import type { Observed } from "../../compose/plan.ts";
import type { CommandDef, FlagDef, ParsedFlags } from "../args.ts";
import { connect } from "../connect.ts";
import { printErr } from "../output.ts";

export const COMPOSE_FLAGS: FlagDef[] = [
  { name: "file", short: "f", kind: "list", valueName: "stringArray", help: "Compose configuration files" },
  { name: "project-name", short: "p", kind: "string", help: "Project name" },
  { name: "project-directory", kind: "string", help: "Specify an alternate working directory (default: the path of the first Compose file)" },
  { name: "env-file", kind: "list", valueName: "stringArray", help: "Specify an alternate environment file" },
  { name: "profile", kind: "list", valueName: "stringArray", help: "Specify a profile to enable" },
  { name: "dry-run", kind: "bool", help: "Execute command in dry run mode: print the plan, change nothing" },
  { name: "ansi", kind: "string", default: "auto", help: "Control when to print ANSI control characters (\"never\"|\"always\"|\"auto\")" },
];

/** A compose subcommand: like a command, with the compose context. */
export interface ComposeCommand extends Omit<CommandDef, "run"> {
  run(ctx: { flags: ParsedFlags; args: string[]; compose: Compose }): Promise<number>;
}

export class Compose {
  private backendP?: Promise<EngineBackend>;
  private projectP?: Promise<Project>;
  constructor(
    readonly flags: ParsedFlags,
    readonly global: ParsedFlags,
  ) {}

  backend(): Promise<EngineBackend> {
    return (this.backendP ??= connect(this.global).then((c) => new EngineBackend(c)));
  }

  /** The project from the compose files; `services` named on the command line enable their profiles. */
  project(services: string[] = []): Promise<Project> {
    return (this.projectP ??= loadProject(this.loadOptions(services)).then(({ project, warnings }) => {
      for (const w of warnings) printErr(`WARN[0000] ${w}\n`);
      return project;
    }));
  }

  /** How the project is loaded, complete enough for the daemon to load it the same way (watch). */
  loadOptions(services: string[] = []): LoadOptions {
    return {
      files: this.flags.list("file").length ? this.flags.list("file") : undefined,
      projectName: this.flags.string("project-name"),
      projectDirectory: this.flags.string("project-directory"),
      envFiles: this.flags.list("env-file").length ? this.flags.list("env-file") : undefined,
      profiles: this.flags.list("profile"),
      services,
      env: { ...process.env },
      cwd: process.cwd(),
    };
  }

  /**
   * The project's name: -p when given (then no compose file is needed, as
   * for `docker compose -p x down`), else the loaded project's.
   */
  async projectName(): Promise<string> {
    const p = this.flags.string("project-name");
    if (p !== undefined) {
      try {
        return (await this.project()).name;
      } catch (err) {
        if (!isKind(err, "NotFound")) throw err;
        return checkProjectName(p);
      }
    }
    return (await this.project()).name;
  }

  /** The project's containers (one-offs left out unless asked), of the named services when given, sorted by name. */
  async containers(services: string[] = [], opts: { oneoff?: boolean } = {}): Promise<Observed[]> {
    const [backend, name] = await Promise.all([this.backend(), this.projectName()]);
    const list = (await backend.containers(name)).filter((c) => (opts.oneoff || !c.oneoff) && (!services.length || services.includes(c.service)));
    return list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async applyContext(project: Project, specs: ApplyContext["specs"] = {}): Promise<ApplyContext> {
    return { project, backend: await this.backend(), specs, progress: progressPrinter() };
  }
}

function checkProjectName(p: string): string {
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(p)) throw invalidArgument(`invalid project name "${p}": must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as start with a letter or number`);
  return p;
}

/** Docker Compose's plain progress: " Container demo-web-1  Started", on stderr. */
export function progressPrinter(): Progress {
  return (kind, name, status) => printErr(` ${kind} ${name}  ${status}\n`);
}
