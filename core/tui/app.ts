// berth tui: the dashboard. A tree of stacks, services and containers on
// top (one GET /containers/json a second; stats streams only for the rows
// in view), a log pane following the selection, and a side pane cycling
// through events, compose watches, images, networks, volumes and plugins.
// Renders at most every 100 ms, and only when something changed.
import type BlessedModule from "blessed";
import { existsSync } from "node:fs";
import type { Widgets } from "blessed";
import type { ParsedFlags } from "../cli/args.ts";
import type { Client } from "../cli/client.ts";
import { BERTH_HOME, BUNDLED } from "../location.ts";
import { Api, ApiError, Demux, follow, followJsonLines, type Follow } from "./data.ts";
import {
  buildRows,
  cleanLine,
  containerName,
  escapeTags,
  eventLine,
  fit,
  formatBytes,
  formatLine,
  headerLine,
  highlight,
  layoutColumns,
  LineSplitter,
  pushHistory,
  Ring,
  rowCells,
  rowContainers,
  scrollWindow,
  usageOf,
  watchLines,
  type ContainerSummary,
  type Detail,
  type EngineEvent,
  type Row,
  type StatsSample,
  type Usage,
  type WatchStatus,
} from "./model.ts";

const SIDE_PANES = ["events", "watch", "images", "networks", "volumes", "plugins"] as const;
type SidePane = (typeof SIDE_PANES)[number];
const MAX_STATS = 64;
const LOG_COLOURS = ["cyan", "magenta", "green", "yellow", "blue", "red"];
const STATE_COLOUR: Record<string, string> = { running: "green", exited: "red", dead: "red", paused: "yellow", restarting: "yellow", created: "gray", removing: "gray" };

const HELP = `berth tui keys

  up/down, j/k, PgUp/PgDn, g/G   move the selection (or click a row)
  Enter                          fold or unfold a stack or service
  s / x / r                      start / stop / restart
  p                              pause or unpause
  d                              remove (asks first)
  i                              inspect (formatted JSON)
  e                              a shell in the container (exec -it sh)
  u                              stack: compose up -d
  D                              stack: compose down (asks first)
  R                              service: compose up -d --force-recreate
  f                              filter the tree by name
  /                              search the logs (highlights)
  space                          pause or resume the log scrolling
  Tab / b                        cycle the side pane (events, watch, images, networks, volumes, plugins)
  ?                              this help
  q, Ctrl-C                      quit

Esc or q closes this box.`;

/** The blessed module, loaded from node_modules at run time (its widgets are dynamic requires a bundle cannot hold). */
function loadBlessed(): typeof BlessedModule {
  return require(`${BERTH_HOME}/node_modules/blessed`);
}

interface LogLine {
  text: string;
  source?: string;
  colour?: string;
}

type Mode =
  | { kind: "normal" }
  | { kind: "input"; prompt: string; value: string; live?: (v: string) => void; done: (v: string | undefined) => void }
  | { kind: "confirm"; question: string; yes: () => void }
  | { kind: "overlay" };

export interface TuiOptions {
  client: Client;
  global: ParsedFlags;
}

/** berth's own argv (this Bun, this bundle or source) with the global flags, for exec and compose. */
export function berthArgv(global: ParsedFlags): string[] {
  const argv = BUNDLED ? [process.execPath, Bun.main] : [process.execPath, `${BERTH_HOME}/core/cli/main.ts`];
  const host = global.string("host");
  if (host) argv.push("-H", host);
  else argv.push("--root", global.string("root")!);
  for (const f of ["storage-driver", "cgroup-driver", "cgroup-parent"]) {
    const v = global.string(f);
    if (v !== undefined) argv.push(`--${f}`, v);
  }
  for (const f of ["insecure-registry", "registry-mirror"]) for (const v of global.list(f)) argv.push(`--${f}`, v);
  return argv;
}

export async function runTui({ client, global }: TuiOptions): Promise<number> {
  // The first request starts --root's daemon if needed, and fails plainly (before the screen) when there is none.
  const api = new Api(client);
  await api.negotiate();
  let containers = await api.json<ContainerSummary[]>("GET", "/containers/json", { all: true });
  const blessed = loadBlessed();
  const screen = blessed.screen({ smartCSR: true, fullUnicode: false, autoPadding: false, title: "berth tui", warnings: false, dockBorders: false });
  const header = blessed.box({ parent: screen, top: 0, left: 0, width: "100%", height: 1, tags: true, style: { fg: "white", bg: "blue" } });
  const tree = blessed.box({ parent: screen, top: 1, left: 0, width: "100%", height: 10, tags: true, border: "line", label: " containers ", clickable: true, wrap: false, style: { border: { fg: "cyan" } } });
  const logs = blessed.box({ parent: screen, top: 11, left: 0, width: "60%", height: 10, tags: true, border: "line", label: " logs ", clickable: true, wrap: false, style: { border: { fg: "cyan" } } });
  const side = blessed.box({ parent: screen, top: 11, left: "60%", width: "40%", height: 10, tags: true, border: "line", label: " events ", clickable: true, wrap: false, style: { border: { fg: "cyan" } } });
  const status = blessed.box({ parent: screen, bottom: 0, left: 0, width: "100%", height: 1, tags: true });
  const overlay = blessed.box({
    parent: screen, top: "center", left: "center", width: "90%", height: "85%", tags: true, border: "line", hidden: true, scrollable: true, alwaysScroll: true, wrap: false,
    scrollbar: { ch: " ", style: { bg: "cyan" } }, style: { border: { fg: "yellow" } },
  });
  const dialog = blessed.box({ parent: screen, top: "center", left: "center", width: 60, height: 5, tags: true, border: "line", hidden: true, style: { border: { fg: "red" } } });

  // State.
  let rows: Row[] = [];
  let selectedKey: string | undefined;
  let selected = 0;
  let top = 0;
  let filter = "";
  const collapsed = new Set<string>();
  let mode: Mode = { kind: "normal" };
  let message = "";
  let messageColour = "white";
  let sidePane: SidePane = "events";
  let sideLines: string[] = [];
  let sideLoadedAt = 0;
  const events = new Ring<string>(200);
  let logLines = new Ring<LogLine>(1000);
  let logTarget = "";
  let logFollows: Follow[] = [];
  let logPaused: LogLine[] | undefined;
  let search = "";
  const details = new Map<string, { key: string; detail: Detail }>();
  const inspecting = new Set<string>();
  const stats = new Map<string, { follow: Follow; usage?: Usage }>();
  let stopped = false;
  let suspended = false;
  let exitCode = 0;
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));

  // Rendering: at most every 100 ms, only when something changed.
  let dirty = true;
  let renderTimer: ReturnType<typeof setTimeout> | undefined;
  let lastRender = 0;
  const invalidate = () => {
    dirty = true;
    if (renderTimer || stopped || suspended) return;
    renderTimer = setTimeout(draw, Math.max(0, 100 - (Date.now() - lastRender)));
  };
  const say = (text: string, colour = "white") => {
    message = text;
    messageColour = colour;
    invalidate();
  };

  const layout = () => {
    const h = screen.height;
    const body = Math.max(6, h - 2);
    const treeH = Math.max(5, Math.floor(body * 0.55));
    tree.height = treeH;
    logs.top = 1 + treeH;
    side.top = 1 + treeH;
    logs.height = Math.max(3, body - treeH);
    side.height = Math.max(3, body - treeH);
  };
  const treeRows = () => Math.max(1, (tree.height as number) - 3); // border and the column header

  function selectIndex(i: number) {
    if (!rows.length) return;
    selected = Math.max(0, Math.min(rows.length - 1, i));
    selectedKey = rows[selected]!.key;
    top = scrollWindow(top, selected, treeRows(), rows.length);
    syncStreams();
    invalidate();
  }

  const current = (): Row | undefined => rows[selected];

  function rebuild() {
    rows = buildRows(containers, { filter, collapsed });
    const i = selectedKey ? rows.findIndex((r) => r.key === selectedKey) : -1;
    selected = i >= 0 ? i : Math.min(selected, Math.max(0, rows.length - 1));
    selectedKey = rows[selected]?.key;
    top = scrollWindow(top, selected, treeRows(), rows.length);
  }

  // --- streams: stats and inspect for the rows in view, logs for the selection ---
  /** The containers of the rows in view: their own rows' first, then those inside folded stacks and services. */
  function visibleContainers(): { own: ContainerSummary[]; all: ContainerSummary[] } {
    const inView = rows.slice(top, top + treeRows());
    const own = inView.flatMap((r) => (r.kind === "container" ? [r.container] : []));
    const seen = new Map(own.map((c) => [c.Id, c]));
    for (const r of inView) for (const c of rowContainers(r)) if (!seen.has(c.Id)) seen.set(c.Id, c);
    return { own, all: [...seen.values()] };
  }

  function syncStreams() {
    if (stopped) return;
    const { own, all } = visibleContainers();
    // At most MAX_STATS streams: a folded stack of hundreds shows the sum of the first ones.
    const want = new Set(all.filter((c) => c.State === "running").slice(0, MAX_STATS).map((c) => c.Id));
    for (const [id, s] of stats) {
      if (!want.has(id)) {
        s.follow.close();
        stats.delete(id);
      }
    }
    for (const id of want) {
      if (stats.has(id)) continue;
      const entry: { follow: Follow; usage?: Usage } = { follow: undefined as unknown as Follow };
      entry.follow = followJsonLines<StatsSample>(api, `/containers/${id}/stats`, { stream: 1 }, (s) => {
        const u = usageOf(s);
        entry.usage = { ...u, history: pushHistory(entry.usage?.history ?? [], u.cpu) };
        invalidate();
      });
      void entry.follow.done.then(() => {
        if (stats.get(id) === entry) stats.delete(id);
      });
      stats.set(id, entry);
    }
    for (const c of own) {
      const key = `${c.State}`;
      if (details.get(c.Id)?.key === key || inspecting.has(c.Id)) continue;
      inspecting.add(c.Id);
      api
        .json<{ State: { StartedAt?: string; Health?: { Status: string } }; RestartCount?: number; Config?: { Tty?: boolean } }>("GET", `/containers/${c.Id}/json`)
        .then((info) => {
          const started = info.State.StartedAt ? Date.parse(info.State.StartedAt) : NaN;
          details.set(c.Id, { key, detail: { startedAt: Number.isFinite(started) && started > 0 ? started : undefined, restarts: info.RestartCount ?? 0, health: info.State.Health?.Status, tty: !!info.Config?.Tty } });
          invalidate();
        })
        .catch(() => details.delete(c.Id))
        .finally(() => inspecting.delete(c.Id));
    }
    syncLogs();
  }

  function syncLogs() {
    const row = current();
    const list = row ? rowContainers(row).slice(0, 20) : [];
    // A container that starts again gets its log followed anew.
    const target = list.map((c) => `${c.Id}:${c.State === "running"}`).join(",");
    if (target === logTarget) return;
    logTarget = target;
    for (const f of logFollows) f.close();
    logFollows = [];
    logLines = new Ring<LogLine>(1000);
    logPaused = undefined;
    const many = list.length > 1;
    list.forEach((c, n) => {
      const source = many ? containerName(c) : undefined;
      const colour = LOG_COLOURS[n % LOG_COLOURS.length];
      const lines = new LineSplitter();
      const dec = new TextDecoder();
      const add = (text: string) => {
        const out = lines.push(text).map((l) => ({ text: cleanLine(l), source, colour }));
        if (out.length) {
          logLines.push(...out);
          invalidate();
        }
      };
      // Frames unless the container has a tty: the first bytes tell (a frame starts with 0, 1 or 2 and three zeros).
      let demux: Demux | undefined;
      let decided = false;
      logFollows.push(
        follow(api, `/containers/${c.Id}/logs`, { follow: 1, stdout: 1, stderr: 1, tail: 200 }, (chunk) => {
          if (!decided) {
            decided = true;
            const tty = details.get(c.Id)?.detail.tty;
            if (tty === false || (tty === undefined && chunk.length >= 8 && chunk[0]! <= 2 && chunk[1] === 0 && chunk[2] === 0 && chunk[3] === 0)) demux = new Demux();
          }
          if (demux) for (const p of demux.push(chunk)) add(dec.decode(p, { stream: true }));
          else add(dec.decode(chunk, { stream: true }));
        }),
      );
    });
    invalidate();
  }

  // --- the periodic refresh ---
  let refreshing = false;
  async function refresh() {
    if (refreshing || stopped) return;
    refreshing = true;
    try {
      containers = await api.json<ContainerSummary[]>("GET", "/containers/json", { all: true });
      rebuild();
      syncStreams();
      if (sidePane !== "events" && Date.now() - sideLoadedAt > 5000) void loadSide();
      invalidate();
    } catch (err) {
      say(`refresh: ${(err as Error).message}`, "red");
    } finally {
      refreshing = false;
    }
  }
  const refreshTimer = setInterval(() => void refresh(), 1000);

  // --- events: one stream ---
  const eventStream = followJsonLines<EngineEvent>(
    api,
    "/events",
    {},
    (e) => {
      events.push(eventLine(e));
      const id = e.Actor?.ID ?? e.id;
      if (e.Type === "container" && id) details.delete(id);
      if (sidePane === "events") invalidate();
    },
    (err) => events.push(`events: ${err.message}`),
  );

  // --- the side pane ---
  async function loadSide() {
    sideLoadedAt = Date.now();
    const pane = sidePane;
    let lines: string[];
    try {
      if (pane === "watch") {
        let list: WatchStatus[] | null = null;
        try {
          list = await api.json<WatchStatus[]>("GET", "/berth/compose/watch");
        } catch (err) {
          if (!(err instanceof ApiError && err.status === 404)) throw err;
        }
        lines = watchLines(list);
      } else if (pane === "images") {
        const list = await api.json<{ Id: string; RepoTags?: string[] | null; Size: number }[]>("GET", "/images/json");
        lines = list.map((i) => `${fit((i.RepoTags ?? []).join(",") || "<none>", 34)} ${i.Id.replace(/^sha256:/, "").slice(0, 12)} ${formatBytes(i.Size).padStart(6)}`);
      } else if (pane === "networks") {
        const list = await api.json<{ Name: string; Id: string; Driver: string; Scope?: string }[]>("GET", "/networks");
        lines = list.map((n) => `${fit(n.Name, 28)} ${fit(n.Driver, 10)} ${n.Id.slice(0, 12)}`);
      } else if (pane === "volumes") {
        const r = await api.json<{ Volumes?: { Name: string; Driver: string; Mountpoint?: string }[] | null }>("GET", "/volumes");
        lines = (r.Volumes ?? []).map((v) => `${fit(v.Name, 40)} ${v.Driver}`);
      } else if (pane === "plugins") {
        const info = await api.json<{ Name?: string; ServerVersion?: string; Driver?: string; Plugins?: Record<string, string[] | null>; BerthPlugins?: { Kind: string; Name: string; Available: boolean; Default: boolean; Reason?: string }[] }>("GET", "/info");
        lines = [`${info.Name ?? ""} ${info.ServerVersion ?? ""} storage: ${info.Driver ?? ""}`];
        if (info.BerthPlugins) {
          for (const p of info.BerthPlugins) lines.push(`${p.Available ? "{green-fg}ok{/green-fg} " : "{red-fg}--{/red-fg} "}${escapeTags(`${p.Kind}/${p.Name}${p.Default ? " (default)" : ""}${p.Reason ? ` ${p.Reason}` : ""}`)}`);
        } else {
          for (const [kind, names] of Object.entries(info.Plugins ?? {})) lines.push(escapeTags(`${kind}: ${(names ?? []).join(", ")}`));
        }
        lines = lines.map((l, i) => (i === 0 ? escapeTags(l) : l));
        if (pane === sidePane) sideLines = lines;
        return invalidate();
      } else return;
      lines = lines.length ? lines.map(escapeTags) : [`no ${pane}`];
    } catch (err) {
      lines = [escapeTags(`${pane}: ${(err as Error).message}`)];
    }
    if (pane === sidePane) {
      sideLines = lines;
      invalidate();
    }
  }

  // --- drawing ---
  function draw() {
    renderTimer = undefined;
    if (stopped || suspended) return;
    lastRender = Date.now();
    if (!dirty) return;
    dirty = false;
    layout();
    const width = screen.width;
    const inner = Math.max(10, width - 2);
    const running = containers.filter((c) => c.State === "running").length;
    const where = global.string("host") ?? `--root ${global.string("root")}`;
    header.setContent(escapeTags(fit(` berth tui  ${where}  ${running}/${containers.length} running${filter ? `  filter: ${filter}` : ""}`, width - 10)) + "{|}? help ");

    const cols = layoutColumns(inner, Math.max(8, ...rows.map((r) => r.name.length + 2 * r.depth + (r.kind === "container" ? 0 : 2))));
    const now = Date.now();
    const h = treeRows();
    top = scrollWindow(top, selected, h, rows.length);
    const lines = [`{bold}${escapeTags(fit(headerLine(cols), inner))}{/bold}`];
    if (!rows.length) lines.push(filter ? "no container matches the filter" : "no containers");
    for (let i = top; i < Math.min(rows.length, top + h); i++) {
      const row = rows[i]!;
      const cells = rowCells(row, now, (id) => details.get(id)?.detail, (id) => stats.get(id)?.usage);
      const text = escapeTags(fit(formatLine(cells, cols), inner));
      const state = row.kind === "container" ? row.container.State : "";
      const colour = row.kind === "stack" ? "cyan" : row.kind === "service" ? "white" : (STATE_COLOUR[state] ?? "white");
      const bold = row.kind !== "container" ? "{bold}" : "";
      lines.push(i === selected ? `{inverse}${text}{/inverse}` : `${bold}{${colour}-fg}${text}{/${colour}-fg}${bold ? "{/bold}" : ""}`);
    }
    tree.setContent(lines.join("\n"));
    tree.setLabel(` containers ${rows.length ? `${selected + 1}/${rows.length} ` : ""}`);

    const row = current();
    const logInner = Math.max(4, (logs.width as number) - 2);
    const logH = Math.max(1, (logs.height as number) - 2);
    const shown = (logPaused ?? logLines.items).slice(-logH);
    logs.setContent(
      shown
        .map((l) => {
          const prefix = l.source ? `${l.source} | ` : "";
          const text = fit(prefix + l.text, logInner).trimEnd();
          const body = highlight(text.slice(prefix.length), search);
          return l.source ? `{${l.colour}-fg}${escapeTags(text.slice(0, prefix.length))}{/${l.colour}-fg}${body}` : body;
        })
        .join("\n"),
    );
    logs.setLabel(` logs${row ? `: ${row.name}` : ""}${logPaused ? " (paused)" : ""}${search ? ` /${search}` : ""} `);

    const sideInner = Math.max(4, (side.width as number) - 2);
    const sideH = Math.max(1, (side.height as number) - 2);
    const sl = sidePane === "events" ? events.items.slice(-sideH).map((l) => escapeTags(fit(l, sideInner).trimEnd())) : sideLines.slice(0, sideH);
    side.setContent(sl.join("\n"));
    side.setLabel(` ${sidePane} (Tab) `);

    let st: string;
    if (mode.kind === "input") st = `${escapeTags(mode.prompt + mode.value)}█`;
    else if (message) st = `{${messageColour}-fg}${escapeTags(fit(message, width - 1))}{/${messageColour}-fg}`;
    else if (width >= 110) st = "{gray-fg}s start  x stop  r restart  p pause  d rm  i inspect  e shell  u/D/R compose  f filter  / search  ? help  q quit{/gray-fg}";
    else st = "{gray-fg}s/x/r start/stop/restart  p pause  d rm  i inspect  e sh  u/D/R compose  ? help  q quit{/gray-fg}";
    status.setContent(st);
    screen.render();
  }

  // --- actions ---
  const targets = (): ContainerSummary[] => {
    const row = current();
    return row ? rowContainers(row) : [];
  };

  async function containerAction(verb: string, path: (c: ContainerSummary) => [string, string], done: string) {
    const list = targets();
    if (!list.length) return;
    const name = current()!.name;
    say(`${verb} ${name}…`, "yellow");
    try {
      await Promise.all(list.map((c) => api.call(...path(c))));
      say(`${done} ${name}`, "green");
    } catch (err) {
      say(`${verb} ${name}: ${(err as Error).message}`, "red");
    }
    void refresh();
  }

  async function showInspect() {
    const row = current();
    if (!row) return;
    try {
      const list = await Promise.all(rowContainers(row).map((c) => api.json("GET", `/containers/${c.Id}/json`)));
      showOverlay(` inspect ${row.name} (Esc closes) `, JSON.stringify(list.length === 1 ? list[0] : list, null, 2));
    } catch (err) {
      say(`inspect: ${(err as Error).message}`, "red");
    }
  }

  function showOverlay(label: string, text: string) {
    overlay.setLabel(label);
    overlay.setContent(escapeTags(text));
    overlay.scrollTo(0);
    overlay.show();
    overlay.setFront();
    mode = { kind: "overlay" };
    invalidate();
  }

  function confirm(question: string, yes: () => void) {
    dialog.setContent(`\n ${escapeTags(question)}  {bold}y{/bold}/N`);
    dialog.show();
    dialog.setFront();
    mode = { kind: "confirm", question, yes };
    invalidate();
  }

  function input(prompt: string, value: string, done: (v: string | undefined) => void, live?: (v: string) => void) {
    mode = { kind: "input", prompt, value, done, live };
    invalidate();
  }

  /** Leave the screen for a child on the real terminal (a shell), then come back. */
  async function onTerminal(argv: string[]) {
    suspended = true;
    const program = screen.program;
    const write = program.output.write;
    program.disableMouse();
    program.normalBuffer();
    program.clear();
    program.showCursor();
    program.flush();
    (program.output as { write: unknown }).write = () => true;
    program.input.pause();
    program.input.setRawMode?.(false);
    try {
      const child = Bun.spawn(argv, { stdio: ["inherit", "inherit", "inherit"] });
      await child.exited;
    } catch (err) {
      say(`shell: ${(err as Error).message}`, "red");
    } finally {
      program.output.write = write;
      program.input.setRawMode?.(true);
      program.input.resume();
      program.alternateBuffer();
      program.hideCursor();
      program.enableMouse();
      suspended = false;
      screen.alloc();
      dirty = true;
      draw();
    }
  }

  async function shell() {
    const row = current();
    if (row?.kind !== "container") return say("select a container for a shell", "yellow");
    if (row.container.State !== "running") return say(`${row.name} is not running`, "yellow");
    await onTerminal([...berthArgv(global), "exec", "-it", row.container.Id, "sh"]);
    void refresh();
  }

  async function compose(row: Row & { kind: "stack" | "service" }, args: string[], label: string) {
    // The files the stack was brought up with, while they are there (down needs none).
    const present = row.configFiles.length > 0 && row.configFiles.every((f) => existsSync(f));
    const files = present ? row.configFiles.flatMap((f) => ["-f", f]) : [];
    if (!present && args[0] !== "down") return say(`${label}: the compose files of ${row.project} are not there (${row.configFiles.join(", ") || "no com.docker.compose.project.config_files label"})`, "red");
    const argv = [...berthArgv(global), "compose", ...files, "-p", row.project, ...args];
    say(`${label}…`, "yellow");
    try {
      const cwd = row.workingDir && existsSync(row.workingDir) ? row.workingDir : process.cwd();
      const child = Bun.spawn(argv, { cwd, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
      const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
      const last = (err.trim() || out.trim()).split("\n").pop() ?? "";
      if (code === 0) say(`${label}: done`, "green");
      else say(`${label} failed (${code}): ${cleanLine(last)}`, "red");
    } catch (err) {
      say(`${label}: ${(err as Error).message}`, "red");
    }
    void refresh();
  }

  function stackOf(row: Row | undefined): (Row & { kind: "stack" | "service" }) | undefined {
    if (!row) return undefined;
    if (row.kind !== "container") return row;
    if (!row.project) return undefined;
    return rows.find((r): r is Row & { kind: "stack" } => r.kind === "stack" && r.project === row.project);
  }

  function quit() {
    if (stopped) return;
    stopped = true;
    clearInterval(refreshTimer);
    if (renderTimer) clearTimeout(renderTimer);
    eventStream.close();
    for (const f of logFollows) f.close();
    for (const s of stats.values()) s.follow.close();
    screen.destroy();
    finish();
  }

  function normalKey(ch: string | undefined, key: Widgets.Key) {
    const row = current();
    message = "";
    switch (key.full) {
      case "up":
      case "k":
        return selectIndex(selected - 1);
      case "down":
      case "j":
        return selectIndex(selected + 1);
      case "pageup":
        return selectIndex(selected - treeRows());
      case "pagedown":
        return selectIndex(selected + treeRows());
      case "home":
      case "g":
        return selectIndex(0);
      case "end":
      case "S-g":
        return selectIndex(rows.length - 1);
      case "enter":
        if (row && row.kind !== "container") {
          if (collapsed.has(row.key)) collapsed.delete(row.key);
          else collapsed.add(row.key);
          rebuild();
          syncStreams();
          invalidate();
        }
        return;
      case "s":
        return void containerAction("starting", (c) => ["POST", `/containers/${c.Id}/start`], "started");
      case "x":
        return void containerAction("stopping", (c) => ["POST", `/containers/${c.Id}/stop`], "stopped");
      case "r":
        return void containerAction("restarting", (c) => ["POST", `/containers/${c.Id}/restart`], "restarted");
      case "p": {
        const paused = targets().every((c) => c.State === "paused");
        return void containerAction(paused ? "unpausing" : "pausing", (c) => ["POST", `/containers/${c.Id}/${paused ? "unpause" : "pause"}`], paused ? "unpaused" : "paused");
      }
      case "d":
        if (!row) return;
        if (row.kind === "stack") return say("a stack goes with D (compose down)", "yellow");
        return confirm(`Remove ${row.kind === "service" ? `every container of service ${row.name}` : row.name}?`, () =>
          void containerAction("removing", (c) => ["DELETE", `/containers/${c.Id}?force=1`], "removed"),
        );
      case "i":
        return void showInspect();
      case "e":
        return void shell();
      case "u": {
        const s = stackOf(row);
        if (!s) return say("select a stack (a compose project) for up", "yellow");
        return void compose(s, ["up", "-d"], `compose -p ${s.project} up -d`);
      }
      case "S-d": {
        const s = stackOf(row);
        if (!s) return say("select a stack (a compose project) for down", "yellow");
        return confirm(`compose down ${s.project}?`, () => void compose(s, ["down"], `compose -p ${s.project} down`));
      }
      case "S-r": {
        if (!row || row.kind === "stack" || !row.project || !row.service) return say("select a service of a stack to recreate", "yellow");
        const s = stackOf(row)!;
        return void compose(s, ["up", "-d", "--force-recreate", row.service], `recreate ${row.project}/${row.service}`);
      }
      case "f":
        return input("filter: ", filter, (v) => {
          filter = v ?? filter;
          rebuild();
          syncStreams();
        }, (v) => {
          filter = v;
          rebuild();
          syncStreams();
        });
      case "/":
        return input("/", search, (v) => {
          if (v !== undefined) search = v;
        });
      case "space":
        logPaused = logPaused ? undefined : [...logLines.items];
        return invalidate();
      case "tab":
      case "b": {
        sidePane = SIDE_PANES[(SIDE_PANES.indexOf(sidePane) + 1) % SIDE_PANES.length]!;
        sideLines = ["loading…"];
        void loadSide();
        return invalidate();
      }
      case "?":
        return showOverlay(" help ", HELP);
      case "q":
      case "C-c":
        return quit();
    }
    if (ch === "G") return selectIndex(rows.length - 1);
    if (ch === "D" || ch === "R") return normalKey(undefined, { ...key, full: `S-${ch.toLowerCase()}` });
    invalidate();
  }

  screen.on("keypress", (ch: string | undefined, key: Widgets.Key | undefined) => {
    if (stopped || suspended || !key) return;
    // blessed reports Enter twice: as "enter" (without .full) and then as "return". Take the first.
    if (key.name === "return") return;
    if (!key.full) key = { ...key, full: key.name ?? "" };
    if (key.full === "C-c") return quit();
    const m = mode;
    if (m.kind === "input") {
      if (key.name === "enter") {
        mode = { kind: "normal" };
        m.done(m.value);
      } else if (key.name === "escape") {
        mode = { kind: "normal" };
        m.done(undefined);
      } else if (key.name === "backspace") {
        m.value = m.value.slice(0, -1);
        m.live?.(m.value);
      } else if (ch && ch >= " " && !key.ctrl && !key.meta) {
        m.value += ch;
        m.live?.(m.value);
      }
      return invalidate();
    }
    if (m.kind === "confirm") {
      dialog.hide();
      mode = { kind: "normal" };
      if (ch === "y" || ch === "Y") m.yes();
      else say("cancelled");
      return invalidate();
    }
    if (m.kind === "overlay") {
      const page = Math.max(1, (overlay.height as number) - 2);
      if (key.name === "escape" || key.full === "q" || key.full === "?" || key.name === "enter") {
        overlay.hide();
        mode = { kind: "normal" };
      } else if (key.name === "down" || key.full === "j") overlay.scroll(1);
      else if (key.name === "up" || key.full === "k") overlay.scroll(-1);
      else if (key.name === "pagedown" || key.name === "space") overlay.scroll(page);
      else if (key.name === "pageup") overlay.scroll(-page);
      else if (key.name === "home" || key.full === "g") overlay.scrollTo(0);
      else if (key.name === "end" || ch === "G") overlay.setScrollPerc(100);
      return invalidate();
    }
    normalKey(ch, key);
  });

  // Selection on the press (a release may come in the same read as the press, which blessed then drops).
  tree.on("mouse", (m: Widgets.Mouse) => {
    if (mode.kind !== "normal" || m.action !== "mousedown") return;
    const i = top + (m.y - tree.atop - 2);
    if (i >= top && i < rows.length) selectIndex(i);
  });
  tree.on("wheeldown", () => mode.kind === "normal" && selectIndex(selected + 1));
  tree.on("wheelup", () => mode.kind === "normal" && selectIndex(selected - 1));
  overlay.on("wheeldown", () => (overlay.scroll(2), invalidate()));
  overlay.on("wheelup", () => (overlay.scroll(-2), invalidate()));
  side.on("mouse", (m: Widgets.Mouse) => {
    if (mode.kind !== "normal" || m.action !== "mousedown") return;
    sidePane = SIDE_PANES[(SIDE_PANES.indexOf(sidePane) + 1) % SIDE_PANES.length]!;
    sideLines = ["loading…"];
    void loadSide();
    invalidate();
  });
  screen.on("resize", () => {
    dirty = true;
    screen.alloc();
    invalidate();
    syncStreams();
  });
  process.on("SIGTERM", () => {
    exitCode = 143;
    quit();
  });

  layout();
  rebuild();
  syncStreams();
  invalidate();
  await finished;
  return exitCode;
}
