// Top-level `include:` pulls other compose projects into this one: each is
// loaded on its own (its own project directory, its own .env, its relative
// paths resolved there), then its services, networks, volumes, secrets and
// configs are added. A resource both files define is an error: include
// does not override (that is what -f is for).
import { dirname, resolve } from "node:path";
import { errorAt, formatPosition, copyEntry, isMapping, positionAt } from "./positions.ts";

type Raw = Record<string, unknown>;

export interface IncludedProject {
  files: string[];
  projectDirectory: string;
  envFiles?: string[];
}

/** Loads an included project to a merged document with absolute paths. */
export type ProjectSource = (inc: IncludedProject) => Raw;

const SECTIONS = ["services", "networks", "volumes", "secrets", "configs"];

/** Add the resources of the projects `doc.include` names (file is `doc`'s absolute path), and drop `include`. */
export function applyIncludes(doc: Raw, file: string, load: ProjectSource): void {
  if (!Array.isArray(doc.include)) return;
  const dir = dirname(file);
  doc.include.forEach((entry) => {
    const paths = isMapping(entry) ? (Array.isArray(entry.path) ? entry.path : [entry.path]) : [entry];
    const files = paths.map((p) => resolve(dir, String(p)));
    const projectDirectory = isMapping(entry) && typeof entry.project_directory === "string" ? resolve(dir, entry.project_directory) : dirname(files[0]!);
    const envFile = isMapping(entry) ? entry.env_file : undefined;
    const envFiles = envFile === undefined ? undefined : (Array.isArray(envFile) ? envFile : [envFile]).map((e) => resolve(dir, String(e)));
    const sub = load({ files, projectDirectory, envFiles });
    for (const section of SECTIONS) {
      if (!isMapping(sub[section])) continue;
      if (!isMapping(doc[section])) doc[section] = {};
      const mine = doc[section] as Raw;
      for (const key of Object.keys(sub[section])) {
        if (key in mine) {
          const theirs = formatPosition(positionAt(sub, [section, key]));
          throw errorAt(positionAt(doc, [section, key]), `${section}.${key} is defined in this file and in the included ${theirs || files.join(", ")}`, "rename one of them, or drop it from one file");
        }
        mine[key] = sub[section][key];
        copyEntry(sub[section], key, mine, key);
      }
    }
  });
  delete doc.include;
}
