// `docker top`: the host's `ps`, run with the caller's arguments, keeping the
// rows of the container's processes (GET /containers/{id}/top, the swagger's
// ContainerTopResponse). Follows moby's daemon/top_unix.go: the arguments are
// split on single spaces, `-q<pids>` is appended (retried without it for
// options ps cannot combine with it, such as forest listings), the PID column
// is found by its title, thread rows ("-" as PID) follow the process they
// belong to, and the last column keeps its spaces.
import { internal, invalidArgument } from "../errors.ts";

export interface TopResult {
  Titles: string[];
  Processes: string[][];
}

/**
 * Reject arguments that rename a column to a title starting with "PID"
 * (`-o user=PID`), which would make another column pass for the PID column.
 * Docker's words: `specifying "user=PID" is not allowed`.
 */
export function validatePsArgs(psArgs: string): void {
  // The same pattern as Docker's (ASCII whitespace only, like Go's \s).
  const re = /[\t\n\f\r ]+([^\t\n\f\r ]*)=[\t\n\f\r ]*(PID[^\t\n\f\r ]*)/g;
  for (const m of psArgs.matchAll(re)) {
    const [, k, v] = m;
    if (k !== "pid") throw invalidArgument(`specifying "${k}=${v}" is not allowed`);
  }
}

/** Go's strings.FieldsFunc on ASCII whitespace (Docker's fieldsASCII): unicode spaces stay inside fields. */
function fieldsASCII(s: string): string[] {
  return s.split(/[\t\n\f\r ]+/).filter((f) => f.length > 0);
}

/** Keep ps's rows for `pids`; the overhanging fields of a row are joined into the last column. */
export function parsePsOutput(output: string, pids: number[]): TopResult {
  const lines = output.split("\n");
  const Titles = fieldsASCII(lines[0] ?? "");
  const pidIndex = Titles.indexOf("PID");
  if (pidIndex === -1) throw internal("Couldn't find PID field in ps output");
  const wanted = new Set(pids);
  const Processes: string[][] = [];
  const append = (fields: string[]) => {
    const n = Titles.length;
    const row = fields.slice(0, n - 1);
    while (row.length < n - 1) row.push(""); // a short row (empty trailing columns): keep the shape
    row.push(fields.slice(n - 1).join(" "));
    Processes.push(row);
  };
  // Thread rows (ps -m / H) carry "-" as PID: keep them when the process row before them was kept.
  let previousKept = false;
  for (const line of lines.slice(1)) {
    if (line.length === 0) continue;
    const fields = fieldsASCII(line);
    const field = fields[pidIndex];
    if (field === undefined) continue;
    if (field === "-") {
      if (previousKept) append(fields);
      continue;
    }
    if (!/^[+-]?\d+$/.test(field)) throw internal(`Unexpected pid '${field}': strconv.Atoi: parsing "${field}": invalid syntax`);
    const pid = Number(field);
    previousKept = wanted.has(pid);
    if (previousKept) append(fields);
  }
  return { Titles, Processes };
}

async function runPs(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = Bun.spawn(["ps", ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

/**
 * Run the host's `ps` with `psArgs` (Docker's default "-ef"; an empty string
 * means the default) and keep the rows whose PID is one of `pids`.
 * Throws InvalidArgument for arguments Docker rejects, and Internal (Docker
 * answers 500) when ps fails (with the first line of its stderr, as Docker
 * words it) or its output has no PID column.
 */
export async function top(pids: number[], psArgs = "-ef"): Promise<TopResult> {
  if (psArgs === "") psArgs = "-ef";
  validatePsArgs(psArgs);
  const args = psArgs.split(" ");
  let r = await runPs([...args, `-q${pids.join(",")}`]);
  if (r.code !== 0) {
    // Some options (such as f) cannot be combined with -q: list everything and filter.
    r = await runPs(args);
    if (r.code !== 0) {
      const first = r.stderr.split("\n", 1)[0] ?? "";
      throw internal(first.length > 0 ? first : `ps: exit status ${r.code}`);
    }
  }
  return parsePsOutput(r.stdout, pids);
}
