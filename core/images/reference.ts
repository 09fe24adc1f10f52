// Image references as Docker parses them: [domain/]path[:tag][@digest].
// "busybox" is docker.io/library/busybox:latest; shown back as "busybox".
import { invalidArgument } from "../errors.ts";

export interface Reference {
  domain: string;
  path: string;
  tag?: string;
  digest?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const DOMAIN = /^(?:localhost|[a-zA-Z0-9.-]+\.[a-zA-Z0-9.-]+|[a-zA-Z0-9.-]+:\d+|\[[0-9a-fA-F:]+\](?::\d+)?|[a-zA-Z0-9.-]+\.[a-zA-Z0-9.-]+:\d+)$/;
export const DEFAULT_DOMAIN = "docker.io";

export function parseReference(input: string): Reference {
  const bad = (why: string) => invalidArgument(`invalid reference format: ${why}: "${input}"`);
  if (input === "") throw bad("empty name");
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad("bad digest");
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad("bad tag");
  }
  let domain = DEFAULT_DOMAIN;
  const slash = rest.indexOf("/");
  if (slash >= 0 && DOMAIN.test(rest.slice(0, slash))) {
    domain = rest.slice(0, slash);
    rest = rest.slice(slash + 1);
  }
  if (rest !== rest.toLowerCase()) throw invalidArgument(`invalid reference format: repository name must be lowercase: "${input}"`);
  const components = rest.split("/");
  if (components.some((c) => !COMPONENT.test(c))) throw bad("bad repository name");
  if (domain === DEFAULT_DOMAIN && components.length === 1) rest = `library/${rest}`;
  return { domain, path: rest, tag: tag ?? (digest ? undefined : "latest"), digest };
}

/** The full name, e.g. "docker.io/library/busybox:latest". */
export function fullName(ref: Reference): string {
  return `${ref.domain}/${ref.path}${ref.tag ? `:${ref.tag}` : ""}${ref.digest ? `@${ref.digest}` : ""}`;
}

/** The repository part as users write it, e.g. "busybox" or "localhost:5000/app". */
export function familiarRepository(ref: Reference): string {
  if (ref.domain !== DEFAULT_DOMAIN) return `${ref.domain}/${ref.path}`;
  return ref.path.startsWith("library/") ? ref.path.slice("library/".length) : ref.path;
}

/** As users write it: "busybox:latest", "localhost:5000/app:v1". */
export function familiarName(ref: Reference): string {
  return `${familiarRepository(ref)}${ref.tag ? `:${ref.tag}` : ""}${ref.digest ? `@${ref.digest}` : ""}`;
}

/** Normalise a user's reference to the key berth stores tags under. */
export const normalize = (input: string) => fullName(parseReference(input));
