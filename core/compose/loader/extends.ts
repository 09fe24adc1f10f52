// `extends:` lets a service start from another one, in the same file or in
// another (`{file, service}` or the string form naming a service of the same
// file). The base is resolved first (it may extend another in turn), then
// the service is merged onto it with the same rules as -f files. A base from
// another file has its relative paths resolved against that file's
// directory, since that is where they were written. Cycles are errors.
import { dirname, resolve } from "node:path";
import type { Lookup } from "./interpolate.ts";
import { mergeDocuments } from "./merge.ts";
import { resolvePaths } from "./normalize.ts";
import { copyEntry, errorAt, isMapping, positionAt } from "./positions.ts";

type Raw = Record<string, unknown>;

/** Loads a compose file (parsed, interpolated, validated) as a fresh copy; `file` is absolute. */
export type FileSource = (file: string) => Raw;

/** Resolve every service's `extends` in `doc` (read from the absolute `file`), in place. */
export function applyExtends(doc: Raw, file: string, load: FileSource, lookup: Lookup): void {
  const services = isMapping(doc.services) ? doc.services : {};
  for (const name of Object.keys(services)) resolveService(doc, file, name, [], load, lookup);
}

function resolveService(doc: Raw, file: string, name: string, stack: string[], load: FileSource, lookup: Lookup): Raw {
  const services = doc.services as Raw;
  const svc = services[name] as Raw;
  if (!isMapping(svc) || svc.extends === undefined) return svc;
  const ext = svc.extends;
  const baseName = isMapping(ext) ? String(ext.service) : String(ext);
  const baseFile = isMapping(ext) && typeof ext.file === "string" ? resolve(dirname(file), ext.file) : file;
  const here = `${file}#${name}`;
  const where = positionAt(doc, ["services", name, "extends"]);
  if (stack.includes(here)) {
    const chain = [...stack.slice(stack.indexOf(here)), here].map((s) => s.split("#")[1]).join(" -> ");
    throw errorAt(where, `services.${name}.extends: circular reference: ${chain}`, "break the cycle");
  }
  let baseDoc = doc;
  if (baseFile !== file) {
    baseDoc = load(baseFile);
    resolvePaths(baseDoc, dirname(baseFile), lookup);
  }
  const baseServices = isMapping(baseDoc.services) ? baseDoc.services : {};
  if (!isMapping(baseServices[baseName]) && baseServices[baseName] !== null) {
    throw errorAt(where, `services.${name}.extends: service "${baseName}" not found${baseFile !== file ? ` in ${baseFile}` : ""}`, "extends names a service of this file, or of `file:`");
  }
  const base = resolveService(baseDoc, baseFile, baseName, [...stack, here], load, lookup) ?? {};
  const own: Raw = {};
  for (const k of Object.keys(svc)) {
    if (k === "extends") continue;
    own[k] = svc[k];
    copyEntry(svc, k, own, k);
  }
  const merged = mergeDocuments({ services: { [name]: base } }, { services: { [name]: own } });
  const out = (merged.services as Raw)[name] as Raw;
  services[name] = out;
  return out;
}
