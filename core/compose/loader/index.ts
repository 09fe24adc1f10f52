// The compose loader: compose files -> the model.ts Project. Each file is
// parsed (parse.ts, through the cache of parse-cache.ts), interpolated (interpolate.ts, with .env: dotenv.ts),
// validated against the compose-spec schema (validate.ts), checked for keys
// berth does not implement (unsupported.ts), given its includes (include.ts)
// and its services' extends (extends.ts); the files are then merged
// (merge.ts), named (project-name.ts) and normalized (normalize.ts).
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { errnoCode, invalidArgument, notFound } from "../../errors.ts";
import type { Project } from "../model.ts";
import { readDotenv } from "./dotenv.ts";
import { applyExtends } from "./extends.ts";
import { applyIncludes, type IncludedProject } from "./include.ts";
import { interpolateDocument, type Lookup } from "./interpolate.ts";
import { mergeDocuments } from "./merge.ts";
import { normalizeProject, resolvePaths } from "./normalize.ts";
import { parseYamlCached } from "./parse-cache.ts";
import { cloneValue, shownPath } from "./positions.ts";
import { projectName } from "./project-name.ts";
import { checkSupported } from "./unsupported.ts";
import { validateDocument } from "./validate.ts";

export interface LoadOptions {
  /** -f, in order; "-" means the content given in `stdin`. */
  files?: string[];
  stdin?: string;
  /** -p */
  projectName?: string;
  /** --project-directory */
  projectDirectory?: string;
  /** --env-file */
  envFiles?: string[];
  /** --profile */
  profiles?: string[];
  /** Services named on the command line (they are enabled whatever their profiles). */
  services?: string[];
  /** Default process.env. */
  env?: Record<string, string | undefined>;
  /** Default process.cwd(). */
  cwd?: string;
}

const DEFAULT_FILES = ["compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"];
const OVERRIDE_FILES = ["compose.override.yaml", "compose.override.yml", "docker-compose.override.yaml", "docker-compose.override.yml"];

type Raw = Record<string, unknown>;

export async function loadProject(opts: LoadOptions): Promise<{ project: Project; warnings: string[] }> {
  const cwd = opts.cwd ?? process.cwd();
  const env = opts.env ?? process.env;
  const warnings: string[] = [];
  const files = composeFiles(opts, cwd, env, warnings);
  const workingDir = opts.projectDirectory ? resolve(cwd, opts.projectDirectory) : files[0] === "-" ? cwd : dirname(files[0]!);
  const lookup = projectEnv(workingDir, opts.envFiles?.map((f) => resolve(cwd, f)), env, cwd);
  const loader = new Loader(cwd, env, lookup, warnings, opts.stdin);
  const doc = loader.project(files, workingDir, []);
  const name = projectName({
    flag: opts.projectName,
    env: lookup("COMPOSE_PROJECT_NAME"),
    fromFile: typeof doc.name === "string" ? doc.name : undefined,
    directory: workingDir,
  });
  const profiles = opts.profiles?.length ? opts.profiles : (lookup("COMPOSE_PROFILES") ?? "").split(",").filter(Boolean);
  const project = normalizeProject(doc, {
    name,
    workingDir,
    files,
    cwd,
    lookup,
    profiles,
    targets: opts.services ?? [],
  });
  return { project, warnings };
}

/** -f files, else COMPOSE_FILE, else compose.yaml (or its other names) in the directory or a parent, with its override. */
function composeFiles(opts: LoadOptions, cwd: string, env: Record<string, string | undefined>, warnings: string[]): string[] {
  if (opts.files?.length) return opts.files.map((f) => (f === "-" ? f : resolve(cwd, f)));
  const fromEnv = env.COMPOSE_FILE;
  if (fromEnv) return fromEnv.split(env.COMPOSE_PATH_SEPARATOR ?? ":").filter(Boolean).map((f) => resolve(cwd, f));
  for (let dir = cwd; ; dir = dirname(dir)) {
    const found = DEFAULT_FILES.filter((f) => existsSync(join(dir, f)));
    if (found.length > 0) {
      if (found.length > 1) warnings.push(`Found multiple config files with supported names: ${found.map((f) => join(dir, f)).join(", ")}\nUsing ${join(dir, found[0]!)}`);
      const override = OVERRIDE_FILES.find((f) => existsSync(join(dir, f)));
      return [join(dir, found[0]!), ...(override ? [join(dir, override)] : [])];
    }
    if (dirname(dir) === dir) break;
  }
  throw notFound("no configuration file provided: not found", `create compose.yaml here (or in a parent directory), or pass -f FILE`);
}

/**
 * The variables compose files are interpolated with: the process
 * environment over the .env of the project directory (or the --env-file
 * files, in order, which must exist).
 */
function projectEnv(dir: string, envFiles: string[] | undefined, env: Record<string, string | undefined>, cwd: string): Lookup {
  const fromFiles: Record<string, string> = {};
  const lookup: Lookup = (k) => env[k] ?? fromFiles[k];
  for (const f of envFiles ?? [join(dir, ".env")]) Object.assign(fromFiles, readDotenv(f, shownPath(f, cwd), lookup, envFiles !== undefined));
  return lookup;
}

/** Loads files and projects with one environment; included projects get a Loader of their own. */
class Loader {
  private readonly cache = new Map<string, Raw>();

  constructor(
    private readonly cwd: string,
    private readonly env: Record<string, string | undefined>,
    private readonly lookup: Lookup,
    private readonly warnings: string[],
    private readonly stdin?: string,
  ) {}

  /** The files merged in order, includes and extends applied, paths absolute against `workingDir`. */
  project(files: string[], workingDir: string, includeStack: string[]): Raw {
    let doc: Raw = {};
    for (const file of files) {
      const one = this.file(file);
      // stdin's content is taken to be a file of the working directory.
      const path = file === "-" ? join(workingDir, "-") : file;
      applyIncludes(one, path, (inc) => this.included(inc, [...includeStack, file]));
      applyExtends(one, path, (f) => this.file(f), this.lookup);
      doc = mergeDocuments(doc, one);
    }
    resolvePaths(doc, workingDir, this.lookup);
    return doc;
  }

  private included(inc: IncludedProject, stack: string[]): Raw {
    const cycle = inc.files.find((f) => stack.includes(f));
    if (cycle) throw invalidArgument(`include cycle: ${[...stack, cycle].map((f) => shownPath(f, this.cwd)).join(" -> ")}`, "remove one of the include: entries");
    const lookup = projectEnv(inc.projectDirectory, inc.envFiles, this.env, this.cwd);
    return new Loader(this.cwd, this.env, lookup, this.warnings).project(inc.files, inc.projectDirectory, stack);
  }

  /** One file, parsed, interpolated, validated and checked: a fresh copy each time (later stages modify it). */
  file(file: string): Raw {
    let doc = this.cache.get(file);
    if (!doc) {
      const shown = file === "-" ? "-" : shownPath(file, this.cwd);
      doc = parseYamlCached(this.read(file, shown), shown);
      interpolateDocument(doc, this.lookup, this.warnings);
      validateDocument(doc, shown);
      for (const w of checkSupported(doc, shown)) if (!this.warnings.includes(w)) this.warnings.push(w);
      this.cache.set(file, doc);
    }
    return cloneValue(doc);
  }

  private read(file: string, shown: string): string {
    if (file === "-") return this.stdin ?? "";
    try {
      return readFileSync(file, "utf8");
    } catch (err) {
      if (errnoCode(err) === "ENOENT") throw notFound(`open ${shown}: no such file or directory`, "check the -f path");
      throw err;
    }
  }
}
