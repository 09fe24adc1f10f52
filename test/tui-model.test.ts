// berth tui's view models (core/tui/model.ts): the tree from container
// summaries and their compose labels, sorting, columns, sparklines and formats.
import { describe, expect, test } from "vitest";
import {
  buildRows,
  cleanLine,
  eventLine,
  formatBytes,
  formatLine,
  formatPorts,
  formatUptime,
  healthOf,
  highlight,
  layoutColumns,
  LineSplitter,
  pushHistory,
  Ring,
  rowCells,
  scrollWindow,
  sparkline,
  usageOf,
  watchLines,
  type ContainerSummary,
} from "../core/tui/model.ts";

let n = 0;
function c(name: string, labels: Record<string, string> = {}, state = "running", status = "Up 2 minutes"): ContainerSummary {
  n++;
  return { Id: `${name}-id`.padEnd(64, "0"), Names: [`/${name}`], Image: "busybox", State: state, Status: status, Created: n, Labels: labels };
}
const svc = (project: string, service: string, num = 1, extra: Record<string, string> = {}) => ({
  "com.docker.compose.project": project,
  "com.docker.compose.service": service,
  "com.docker.compose.container-number": String(num),
  ...extra,
});

describe("buildRows", () => {
  const list = [
    c("loose-b"),
    c("shop-web-2", svc("shop", "web", 2)),
    c("blog-db-1", svc("blog", "db", 1, { "com.docker.compose.project.config_files": "/srv/blog/compose.yaml,/srv/blog/override.yaml", "com.docker.compose.project.working_dir": "/srv/blog" })),
    c("shop-web-10", svc("shop", "web", 10)),
    c("shop-web-1", svc("shop", "web", 1), "exited", "Exited (0) 1 minute ago"),
    c("shop-api-1", svc("shop", "api", 1)),
    c("loose-a", {}, "created", "Created"),
  ];

  test("stacks by name, then services by name, containers by number; loose containers last by name", () => {
    const rows = buildRows(list);
    expect(rows.map((r) => `${r.depth}:${r.kind}:${r.name}`)).toEqual([
      "0:stack:blog",
      "1:service:db",
      "2:container:blog-db-1",
      "0:stack:shop",
      "1:service:api",
      "2:container:shop-api-1",
      "1:service:web",
      "2:container:shop-web-1",
      "2:container:shop-web-2",
      "2:container:shop-web-10",
      "0:container:loose-a",
      "0:container:loose-b",
    ]);
  });

  test("a stack knows its compose files and working directory from the labels", () => {
    const blog = buildRows(list).find((r) => r.kind === "stack" && r.name === "blog")!;
    expect(blog.kind === "stack" && blog.configFiles).toEqual(["/srv/blog/compose.yaml", "/srv/blog/override.yaml"]);
    expect(blog.kind === "stack" && blog.workingDir).toBe("/srv/blog");
    const shop = buildRows(list).find((r) => r.kind === "stack" && r.name === "shop")!;
    expect(shop.kind === "stack" && shop.configFiles).toEqual([]);
    expect(shop.kind === "stack" && shop.containers.length).toBe(4);
  });

  test("collapsed stacks and services hide their children", () => {
    const rows = buildRows(list, { collapsed: new Set(["s:blog", "v:shop/web"]) });
    expect(rows.map((r) => r.name)).toEqual(["blog", "shop", "api", "shop-api-1", "web", "loose-a", "loose-b"]);
    expect(rows.find((r) => r.name === "web")!.kind === "service" && (rows.find((r) => r.name === "web") as { collapsed: boolean }).collapsed).toBe(true);
  });

  test("the filter keeps containers whose name, service or project matches, case-insensitively", () => {
    expect(buildRows(list, { filter: "WEB-1" }).map((r) => r.name)).toEqual(["shop", "web", "shop-web-1", "shop-web-10"]);
    expect(buildRows(list, { filter: "blog" }).map((r) => r.name)).toEqual(["blog", "db", "blog-db-1"]);
    expect(buildRows(list, { filter: "loose" }).map((r) => r.name)).toEqual(["loose-a", "loose-b"]);
    expect(buildRows(list, { filter: "nothing" })).toEqual([]);
  });

  test("a container with a project label but no service one is loose; no labels at all is fine", () => {
    const rows = buildRows([{ ...c("odd"), Labels: { "com.docker.compose.project": "p" } }, { ...c("bare"), Labels: null }]);
    expect(rows.map((r) => `${r.kind}:${r.name}`)).toEqual(["container:bare", "container:odd"]);
  });
});

describe("rows' cells and lines", () => {
  const list = [c("s-web-1", svc("s", "web", 1), "running", "Up 5 minutes (healthy)"), c("s-web-2", svc("s", "web", 2), "exited", "Exited (1) 3 seconds ago")];
  const rows = buildRows(list);
  const now = Date.parse("2026-01-01T12:00:00Z");
  const detail = (id: string) => (id.startsWith("s-web-1") ? { startedAt: now - 125_000, restarts: 3, tty: false } : { restarts: 0, tty: false });
  const usage = (id: string) => (id.startsWith("s-web-1") ? { cpu: 12.345, mem: 3 * 1024 * 1024, limit: 0, history: [0, 6, 12] } : undefined);

  test("a container: its state, health, uptime, restarts, CPU and memory", () => {
    const cells = rowCells(rows[2]!, now, detail, usage);
    expect(cells).toMatchObject({ name: "    s-web-1", state: "running", health: "healthy", up: "2m", restarts: "3", cpu: "12.3%", mem: "3.0M" });
    expect(cells.spark.trim()).toBe("▁▅█");
    const stopped = rowCells(rows[3]!, now, detail, usage);
    expect(stopped).toMatchObject({ state: "exited", up: "", restarts: "0", cpu: "", mem: "" });
  });

  test("a stack or service: how many of its containers run, and their sums", () => {
    expect(rowCells(rows[0]!, now, detail, usage)).toMatchObject({ name: "- s", state: "1/2 up", cpu: "12.3%" });
    expect(rowCells(rows[1]!, now, detail, usage)).toMatchObject({ name: "  - web", state: "1/2 up" });
    const folded = buildRows(list, { collapsed: new Set(["s:s"]) });
    expect(rowCells(folded[0]!, now, detail, usage).name).toBe("+ s");
  });

  test("a line is exactly as wide as the columns, at 80 and 120 columns", () => {
    for (const width of [78, 118, 60]) {
      const cols = layoutColumns(width, 20);
      const line = formatLine(rowCells(rows[2]!, now, detail, usage), cols);
      expect(line.length).toBe(width);
      expect(line.startsWith("    s-web-1")).toBe(true);
    }
    expect(layoutColumns(60).spark).toBe(0);
    expect(layoutColumns(78).spark).toBeGreaterThan(0);
    expect(layoutColumns(200, 100).name).toBe(40);
  });
});

describe("formats", () => {
  test("uptime", () => {
    expect(formatUptime(0)).toBe("0s");
    expect(formatUptime(59_999)).toBe("59s");
    expect(formatUptime(60_000)).toBe("1m");
    expect(formatUptime(3_599_000)).toBe("59m");
    expect(formatUptime(7_200_000)).toBe("2h");
    expect(formatUptime(3 * 86_400_000 + 5)).toBe("3d");
    expect(formatUptime(-5)).toBe("0s");
  });

  test("bytes", () => {
    expect(formatBytes(0)).toBe("0B");
    expect(formatBytes(512)).toBe("512B");
    expect(formatBytes(1536)).toBe("1.5K");
    expect(formatBytes(12 * 1024 * 1024)).toBe("12M");
    expect(formatBytes(3.25 * 1024 ** 3)).toBe("3.3G");
  });

  test("ports: published and not, IPv4/IPv6 duplicates once, sorted", () => {
    expect(formatPorts(null)).toBe("");
    expect(
      formatPorts([
        { IP: "0.0.0.0", PrivatePort: 80, PublicPort: 8080, Type: "tcp" },
        { IP: "::", PrivatePort: 80, PublicPort: 8080, Type: "tcp" },
        { PrivatePort: 53, Type: "udp" },
      ]),
    ).toBe("53/udp,8080->80/tcp");
  });

  test("health from the Status text", () => {
    expect(healthOf("Up 2 minutes (healthy)")).toBe("healthy");
    expect(healthOf("Up 2 minutes (unhealthy)")).toBe("unhealthy");
    expect(healthOf("Up 1 second (health: starting)")).toBe("starting");
    expect(healthOf("Up 2 minutes (Paused)")).toBe("");
  });

  test("CPU and memory from a stats sample, as docker stats computes them", () => {
    const u = usageOf({
      cpu_stats: { cpu_usage: { total_usage: 2_000_000 }, system_cpu_usage: 20_000_000, online_cpus: 4 },
      precpu_stats: { cpu_usage: { total_usage: 1_000_000 }, system_cpu_usage: 10_000_000 },
      memory_stats: { usage: 10_000, limit: 100_000, stats: { inactive_file: 1_000 } },
    });
    expect(u).toEqual({ cpu: 40, mem: 9_000, limit: 100_000 });
    expect(usageOf({ cpu_stats: { cpu_usage: { total_usage: 5 } }, precpu_stats: { cpu_usage: { total_usage: 5 } }, memory_stats: {} })).toEqual({ cpu: 0, mem: 0, limit: 0 });
  });
});

describe("sparklines", () => {
  test("scaled to the window's largest value, padded on the left", () => {
    expect(sparkline([0, 50, 100], 3)).toBe("▁▅█");
    expect(sparkline([0, 50, 100], 5)).toBe("  ▁▅█");
    expect(sparkline([1, 2, 3, 4, 5, 6, 7, 8], 4)).toBe("▅▆▇█");
    expect(sparkline([8, 6, 4, 2], 4)).toBe("█▆▅▃");
    expect(sparkline([], 3)).toBe("   ");
    expect(sparkline([5], 0)).toBe("");
  });

  test("idle noise stays low: the scale is at least the floor", () => {
    expect(sparkline([0.01, 0.02], 2)).toBe("▁▁");
    expect(sparkline([0.5, 1], 2, 1)).toBe("▅█");
  });

  test("a bounded history", () => {
    const h: number[] = [];
    for (let i = 0; i < 100; i++) pushHistory(h, i, 60);
    expect(h.length).toBe(60);
    expect(h[0]).toBe(40);
    expect(h.at(-1)).toBe(99);
  });
});

describe("log and pane helpers", () => {
  test("highlight marks every match and escapes blessed tags", () => {
    expect(highlight("Error: {x} error", "error", "<", ">")).toBe("<Error>: {open}x{close} <error>");
    expect(highlight("plain {}", "")).toBe("plain {open}{close}");
  });

  test("cleanLine drops terminal control sequences", () => {
    expect(cleanLine("\x1b[31mred\x1b[0m\tx\r")).toBe("red  x");
  });

  test("LineSplitter keeps a torn line for the next chunk", () => {
    const s = new LineSplitter();
    expect(s.push("a\nb")).toEqual(["a"]);
    expect(s.push("c\n\nd")).toEqual(["bc", ""]);
  });

  test("Ring keeps the last items", () => {
    const r = new Ring<number>(3);
    r.push(1, 2, 3, 4);
    r.push(5);
    expect(r.items).toEqual([3, 4, 5]);
  });

  test("scrollWindow keeps the selection in view, moving as little as it can", () => {
    expect(scrollWindow(0, 5, 10, 100)).toBe(0);
    expect(scrollWindow(0, 12, 10, 100)).toBe(3);
    expect(scrollWindow(20, 12, 10, 100)).toBe(12);
    expect(scrollWindow(95, 99, 10, 100)).toBe(90);
    expect(scrollWindow(5, 0, 10, 3)).toBe(0);
  });

  test("watch lines: 'no watch' without any, else rules and recent events", () => {
    expect(watchLines(null)).toEqual(["no watch"]);
    expect(watchLines([])).toEqual(["no watch"]);
    const lines = watchLines([
      { project: "shop", detached: true, since: "2026-01-01T12:00:00Z", services: [{ service: "web", rules: [{ action: "sync", path: "./src", target: "/app" }] }], events: [{ time: "2026-01-01T12:00:05.000Z", service: "web", message: "synced 1 file" }, { time: "2026-01-01T12:00:06.000Z", message: "rebuild failed", error: true }] },
    ]);
    expect(lines).toEqual(["shop (detached) since 2026-01-01T12:00:00Z", "  web: sync ./src -> /app", "  12:00:05 web: synced 1 file", "  12:00:06 ERROR rebuild failed"]);
  });

  test("event lines", () => {
    expect(eventLine({ Type: "container", Action: "start", time: Date.parse("2026-01-01T12:01:02Z") / 1000, Actor: { ID: "abc", Attributes: { name: "web-1" } } })).toBe("12:01:02 container start web-1");
    expect(eventLine({ Type: "network", Action: "connect", Actor: { ID: "0123456789abcdef" } })).toBe("network connect 0123456789ab");
  });
});
