// The project name, by Docker Compose's precedence: -p, then
// COMPOSE_PROJECT_NAME, then the top-level `name:`, then the project
// directory's name. Names prefix container, network and volume names, so
// they hold only [a-z0-9_-]: a name given explicitly must already be so (as
// Docker Compose checks), the directory's name is made to fit.
import { basename } from "node:path";
import { invalidArgument } from "../../errors.ts";

const VALID = /^[a-z0-9][a-z0-9_-]*$/;

export function projectName(opts: { flag?: string; env?: string; fromFile?: string; directory: string }): string {
  const sources: [string | undefined, string][] = [
    [opts.flag, "pass another -p"],
    [opts.env, "fix COMPOSE_PROJECT_NAME"],
    [opts.fromFile, "fix the top-level name:"],
  ];
  for (const [given, hint] of sources) {
    if (!given) continue;
    if (!VALID.test(given)) throw invalidArgument(`${JSON.stringify(given)} is not a valid project name: it must contain only characters from [a-z0-9_-] and start with [a-z0-9]`, hint);
    return given;
  }
  const name = basename(opts.directory).toLowerCase().replace(/[^a-z0-9_-]/g, "").replace(/^[_-]+/, "");
  if (!name) throw invalidArgument(`cannot derive a project name from the directory ${JSON.stringify(opts.directory)}`, "pass -p NAME or set name: in the compose file");
  return name;
}
