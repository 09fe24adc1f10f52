// docker exec: a process started in a running container's namespaces and
// cgroup, under its own monitor; its exit code is kept for `exec inspect`.
import { rmSync } from "node:fs";
import { hostname as hostHostname } from "node:os";
import type { AttachStream, ProcessSpec } from "../contracts/isolation.ts";
import { conflict, invalidArgument, notFound, notSupported, StartError } from "../errors.ts";
import { randomHex } from "../ids.ts";
import type { Engine, ExecSession } from "./engine.ts";
import { processSecurity } from "./security.ts";
import { containerEnv } from "./start.ts";
import type { ContainerRecord, ExecRecord } from "./types.ts";

export interface ExecCreateRequest {
  Cmd?: string[];
  Env?: string[];
  User?: string;
  WorkingDir?: string;
  Tty?: boolean;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  Privileged?: boolean;
  DetachKeys?: string;
  /** The tty's size when the process starts: [rows, columns]. */
  ConsoleSize?: [number, number] | null;
}

function mustRun(engine: Engine, rec: ContainerRecord) {
  if (!engine.rt(rec.Id).proc) throw conflict(`Container ${rec.Id} is not running`);
  if (rec.State.Paused) throw conflict(`Container ${rec.Id} is paused, unpause the container before exec`);
}

export function createExec(engine: Engine, rec: ContainerRecord, req: ExecCreateRequest): string {
  mustRun(engine, rec);
  if (!req.Cmd || req.Cmd.length === 0) throw invalidArgument("No exec command specified");
  if (req.WorkingDir && !req.WorkingDir.startsWith("/")) throw invalidArgument(`the working directory '${req.WorkingDir}' is invalid, it needs to be an absolute path`);
  const id = randomHex(32);
  const hostname = rec.HostConfig.NetworkMode === "host" ? hostHostname() : rec.Config.Hostname || rec.Id.slice(0, 12);
  const process: ProcessSpec = {
    args: req.Cmd,
    env: containerEnv(rec, hostname, req.Env ?? []),
    cwd: req.WorkingDir || rec.Config.WorkingDir || "/",
    user: req.User || rec.Config.User || "",
    ...processSecurity(rec.HostConfig, !!req.Privileged),
    rlimits: (rec.HostConfig.Ulimits ?? []).map((u) => ({ type: u.Name, soft: u.Soft, hard: u.Hard })),
    terminal: !!req.Tty,
    consoleSize: req.ConsoleSize ?? undefined,
  };
  const record: ExecRecord = {
    ID: id,
    ContainerID: rec.Id,
    Running: false,
    ExitCode: null,
    Pid: 0,
    OpenStdin: !!req.AttachStdin,
    OpenStdout: !!req.AttachStdout,
    OpenStderr: !!req.AttachStderr,
    CanRemove: false,
    DetachKeys: req.DetachKeys ?? "",
    ProcessConfig: { tty: !!req.Tty, entrypoint: req.Cmd[0]!, arguments: req.Cmd.slice(1), privileged: !!req.Privileged, user: req.User ?? "" },
    Env: req.Env ?? [],
    WorkingDir: req.WorkingDir ?? "",
  };
  engine.execs.set(id, { record, process });
  engine.emit("container", `exec_create: ${req.Cmd.join(" ")}`, rec.Id, engine.containerAttributes(rec, { execID: id }));
  return id;
}

export function getExec(engine: Engine, id: string): ExecSession {
  const s = engine.execs.get(id);
  if (!s) throw notFound(`No such exec instance: ${id}`);
  return s;
}

/**
 * Start an exec. Attached, resolves to its stream (output frames, stdin in)
 * once the process runs; detached, to undefined.
 */
export async function startExec(engine: Engine, id: string, opts: { detach: boolean }): Promise<AttachStream | undefined> {
  const session = getExec(engine, id);
  const r = session.record;
  if (r.Running || r.ExitCode !== null) throw conflict(`Error: Exec command ${id} has already run`);
  const rec = engine.container(r.ContainerID);
  mustRun(engine, rec);
  const limits = await engine.plugin("limits");
  const isolation = await engine.plugin("isolation");
  const stateDir = engine.execDir(id);
  let stream: AttachStream | undefined;
  const streams = { stdin: r.OpenStdin, stdout: r.OpenStdout, stderr: r.OpenStderr };
  // Tracked from before its monitor exists: a removal waits until its directory is gone.
  let gone!: () => void;
  engine.trackExec(rec.Id, new Promise<void>((resolve) => (gone = resolve)));
  const proc = await isolation
    .exec(
      { pid: rec.State.Pid, cgroupJoin: limits.joinFiles(rec.Id) },
      session.process,
      { stateDir, tty: r.ProcessConfig.tty, stdin: r.OpenStdin, stdinOnce: true },
      opts.detach ? undefined : async (attach) => void (stream = await attach(streams)),
    )
    .catch((err) => {
      rmSync(stateDir, { recursive: true, force: true });
      gone();
      // Docker's exit code for an exec that could not start, whatever the reason.
      if (err instanceof StartError) r.ExitCode = 126;
      throw err;
    });
  session.proc = proc;
  r.Running = true;
  r.Pid = proc.pid;
  engine.emit("container", `exec_start: ${[r.ProcessConfig.entrypoint, ...r.ProcessConfig.arguments].join(" ")}`, rec.Id, engine.containerAttributes(rec, { execID: id }));
  session.exited = proc.exited.then((status) => {
    r.Running = false;
    r.ExitCode = status.code;
    session.proc = undefined;
    rmSync(stateDir, { recursive: true, force: true });
    engine.emit("container", "exec_die", rec.Id, engine.containerAttributes(rec, { execID: id, exitCode: String(status.code) }));
  });
  void session.exited.then(gone, gone);
  return stream;
}

export function resizeExec(engine: Engine, id: string, rows: number, cols: number) {
  const s = getExec(engine, id);
  if (!s.proc) throw conflict(`Exec ${id} is not running`);
  s.proc.resize(rows, cols);
}

/** docker exec inspect's shape. */
export function inspectExec(engine: Engine, id: string) {
  const r = getExec(engine, id).record;
  return { ...r, ExitCode: r.ExitCode ?? 0, Running: r.Running };
}
