// berth stats: CPU, memory and pids of running containers, live or once.
import type { CommandDef } from "../args.ts";
import type { Client } from "../client.ts";
import { connect } from "../connect.ts";
import { enc } from "../each.ts";
import { binarySize, humanSize, table } from "../format.ts";
import { print } from "../output.ts";
import { renderTemplate } from "../template.ts";

interface Stats {
  name: string;
  id: string;
  cpu_stats: { cpu_usage: { total_usage: number }; system_cpu_usage: number; online_cpus: number };
  precpu_stats: { cpu_usage: { total_usage: number }; system_cpu_usage?: number };
  memory_stats: { usage?: number; limit?: number; stats?: Record<string, number> };
  pids_stats: { current?: number };
  networks?: Record<string, { rx_bytes: number; tx_bytes: number }>;
  blkio_stats?: { io_service_bytes_recursive?: { op: string; value: number }[] | null };
}

export const command: CommandDef = {
  name: "stats",
  usage: "stats [OPTIONS] [CONTAINER...]",
  summary: "Display a live stream of container(s) resource usage statistics",
  flags: [
    { name: "all", short: "a", kind: "bool", help: "Show all containers (default shows just running)" },
    { name: "no-stream", kind: "bool", help: "Disable streaming stats and only pull the first result" },
    { name: "no-trunc", kind: "bool", help: "Do not truncate output" },
    { name: "format", kind: "string", help: "Format output using a Go template" },
  ],
  async run({ flags, args, global }) {
    const client = await connect(global);
    let names = args;
    if (names.length === 0) {
      const list = await client.json<{ Id: string }[]>("GET", "/containers/json", { query: { all: flags.bool("all") } });
      names = list.map((c) => c.Id);
    }
    const render = (rows: Stats[]) => {
      const view = rows.map(statsView);
      const format = flags.string("format");
      if (format) return view.map((v) => `${renderTemplate(format.replace(/^table /, ""), v)}\n`).join("");
      return table(
        ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"],
        view.map((v) => [v.ID, v.Name, v.CPUPerc, v.MemUsage, v.MemPerc, v.NetIO, v.BlockIO, v.PIDs]),
      );
    };
    if (flags.bool("no-stream")) {
      const rows = await Promise.all(names.map((n) => client.json<Stats>("GET", `/containers/${enc(n)}/stats`, { query: { stream: "false" } })));
      print(render(rows));
      return 0;
    }
    const latest = new Map<string, Stats>();
    await Promise.all(names.map((n) => follow(client, n, (s) => latest.set(n, s))));
    const timer = setInterval(() => print(`\x1b[2J\x1b[H${render([...latest.values()])}`), 1000);
    await new Promise(() => {}); // until Ctrl-C
    clearInterval(timer);
    return 0;
  },
};

async function follow(client: Client, name: string, on: (s: Stats) => void) {
  const res = await client.call("GET", `/containers/${enc(name)}/stats`, { query: { stream: "true" } });
  void (async () => {
    let buf = "";
    for await (const chunk of res.body!) {
      buf += new TextDecoder().decode(chunk);
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        on(JSON.parse(buf.slice(0, nl)));
        buf = buf.slice(nl + 1);
      }
    }
  })();
}

/** docker stats' columns, computed as the docker CLI computes them. */
export function statsView(s: Stats) {
  const cpuDelta = s.cpu_stats.cpu_usage.total_usage - s.precpu_stats.cpu_usage.total_usage;
  const sysDelta = s.cpu_stats.system_cpu_usage - (s.precpu_stats.system_cpu_usage ?? 0);
  const cpu = sysDelta > 0 && cpuDelta > 0 ? (cpuDelta / sysDelta) * (s.cpu_stats.online_cpus || 1) * 100 : 0;
  const stats = s.memory_stats.stats ?? {};
  const cache = stats.total_inactive_file ?? stats.inactive_file ?? 0;
  const mem = Math.max(0, (s.memory_stats.usage ?? 0) - cache);
  const limit = s.memory_stats.limit ?? 0;
  const nets = Object.values(s.networks ?? {});
  const io = s.blkio_stats?.io_service_bytes_recursive ?? [];
  const ioSum = (op: string) => io.filter((e) => e.op.toLowerCase() === op).reduce((n, e) => n + e.value, 0);
  return {
    ID: s.id.slice(0, 12),
    Container: s.id.slice(0, 12),
    Name: s.name.replace(/^\//, ""),
    CPUPerc: `${cpu.toFixed(2)}%`,
    MemUsage: `${binarySize(mem)} / ${binarySize(limit)}`,
    MemPerc: `${limit ? ((mem / limit) * 100).toFixed(2) : "0.00"}%`,
    PIDs: String(s.pids_stats.current ?? 0),
    NetIO: `${humanSize(nets.reduce((n, x) => n + x.rx_bytes, 0))} / ${humanSize(nets.reduce((n, x) => n + x.tx_bytes, 0))}`,
    BlockIO: `${humanSize(ioSum("read"))} / ${humanSize(ioSum("write"))}`,
  };
}
