// berth events: the daemon's events, live and from the past (--since, --until).
import { byteOrder } from "../../compare.ts";
import type { CommandDef } from "../args.ts";
import { filterMap, filtersQuery } from "../filters.ts";
import { connect } from "../connect.ts";
import { print } from "../output.ts";
import { renderTemplate } from "../template.ts";

interface Event {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  time: number;
  timeNano: number;
}

export const command: CommandDef = {
  name: "events",
  usage: "events [OPTIONS]",
  summary: "Get real time events from the server",
  flags: [
    { name: "filter", short: "f", kind: "list", help: "Filter output based on conditions provided (type, event, container, image, volume, label)" },
    { name: "since", kind: "string", help: "Show all events created since timestamp" },
    { name: "until", kind: "string", help: "Stream events until this timestamp" },
    { name: "format", kind: "string", help: "Format output using a Go template ('{{json .}}' for JSON lines)" },
  ],
  maxArgs: 0,
  async run({ flags, global }) {
    const filters = filterMap(flags.list("filter"));
    const client = await connect(global);
    const res = await client.call("GET", "/events", {
      query: { since: flags.string("since"), until: flags.string("until"), filters: filtersQuery(filters) },
    });
    const format = flags.string("format");
    let buf = "";
    for await (const chunk of res.body!) {
      buf += new TextDecoder().decode(chunk);
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const e = JSON.parse(buf.slice(0, nl)) as Event;
        buf = buf.slice(nl + 1);
        print(`${format ? renderTemplate(format, e) : line(e)}\n`);
      }
    }
    return 0;
  },
};

/** Docker's event line: "2024-01-02T03:04:05.123456789Z container start abc... (image=bb, name=x)". */
function line(e: Event): string {
  const ns = String(e.timeNano % 1e9).padStart(9, "0");
  const time = new Date(e.time * 1000).toISOString().replace(/\.\d+Z$/, `.${ns}Z`);
  const attrs = Object.entries(e.Actor.Attributes).sort(([a], [b]) => byteOrder(a, b)).map(([k, v]) => `${k}=${v}`).join(", ");
  return `${time} ${e.Type} ${e.Action} ${e.Actor.ID}${attrs ? ` (${attrs})` : ""}`;
}
