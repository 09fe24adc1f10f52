// Several containers' logs on one terminal, as Docker Compose shows them:
// "web-1  | line", each service in its own colour on a terminal.
import { decodeFrames } from "../../api/stdcopy.ts";
import type { Client } from "../client.ts";
import { print } from "../output.ts";
import type { Observed } from "../../compose/plan.ts";
import { PROJECT } from "../../compose/labels.ts";

/** A container as Compose names it in logs: "web-1" for "<project>-web-1", a container_name or one-off's name whole. */
export function shownName(c: Observed): string {
  const project = c.labels[PROJECT];
  return project && c.name === `${project}-${c.service}-${c.number}` ? c.name.slice(project.length + 1) : c.name;
}

const COLOURS = [36, 33, 32, 35, 34, 96, 93, 92, 95, 94];

export interface LogOptions {
  follow?: boolean;
  tail?: string;
  timestamps?: boolean;
  since?: string;
  colour: boolean;
  prefix: boolean;
}

export class LogPrinter {
  private width: number;
  private colourOf = new Map<string, number>();

  constructor(
    private client: Client,
    containers: Observed[],
    private opts: LogOptions,
  ) {
    this.width = Math.max(0, ...containers.map((c) => shownName(c).length));
    for (const c of containers) if (!this.colourOf.has(c.service)) this.colourOf.set(c.service, COLOURS[this.colourOf.size % COLOURS.length]!);
  }

  private prefix(c: Observed): string {
    if (!this.opts.prefix) return "";
    const p = `${shownName(c).padEnd(this.width)}  | `;
    return this.opts.colour ? `\x1b[${this.colourOf.get(c.service) ?? 36}m${p}\x1b[0m` : p;
  }

  /** Print one line about a container ("web-1 exited with code 0"), in its colour. */
  note(c: Observed, text: string) {
    const t = this.opts.colour ? `\x1b[${this.colourOf.get(c.service) ?? 36}m${text}\x1b[0m` : text;
    print(`${t}\n`);
  }

  /** Stream one container's logs, line by line with its prefix; resolves when the stream ends. */
  async stream(c: Observed): Promise<void> {
    const res = await this.client.call("GET", `/containers/${c.id}/logs`, {
      query: { stdout: 1, stderr: 1, follow: this.opts.follow, tail: this.opts.tail ?? "all", timestamps: this.opts.timestamps, since: this.opts.since },
    });
    const prefix = this.prefix(c);
    let pending = "";
    const decoder = new TextDecoder();
    const emit = (bytes: Uint8Array) => {
      pending += decoder.decode(bytes, { stream: true });
      const lines = pending.split("\n");
      pending = lines.pop()!;
      if (lines.length) print(lines.map((l) => `${prefix}${l}\n`).join(""));
    };
    const body = res.body as unknown as AsyncIterable<Uint8Array>;
    if (res.headers.get("content-type")?.includes("raw-stream")) for await (const chunk of body) emit(chunk);
    else for await (const frame of decodeFrames(body)) emit(frame.payload);
    if (pending) print(`${prefix}${pending}\n`);
  }
}
