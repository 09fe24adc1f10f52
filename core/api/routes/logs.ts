// GET /containers/{id}/logs: the json-file log, framed as Docker frames it
// (multiplexed without a tty, raw with one), optionally followed.
import { encodeFrame } from "../stdcopy.ts";
import { readLogs, withTimestamp } from "../../engine/logs.ts";
import type { ContainerRecord } from "../../engine/types.ts";
import type { Ctx } from "../server.ts";
import { parseTime } from "./containers.ts";
import { flag, intParam, writeChunk } from "./util.ts";

export async function logs(ctx: Ctx, c: ContainerRecord) {
  const stdout = flag(ctx, "stdout");
  const stderr = flag(ctx, "stderr");
  const tail = ctx.query.get("tail");
  const since = ctx.query.get("since");
  const until = ctx.query.get("until");
  const follow = flag(ctx, "follow");
  const timestamps = flag(ctx, "timestamps");
  const tty = !!c.Config.Tty;
  // Parameters first: a bad one is a 400, not a broken stream.
  const options = {
    stdout,
    stderr,
    since: since && since !== "0" ? parseTime(since) : undefined,
    until: until && until !== "0" ? parseTime(until) : undefined,
    // Docker reads a negative tail as all (and garbage too, which berth refuses).
    tail: !tail || tail === "all" || intParam(ctx, "tail", 0) < 0 ? ("all" as const) : intParam(ctx, "tail", 0),
    timestamps,
  };
  ctx.res.writeHead(200, { "Content-Type": `application/vnd.docker.${tty ? "raw" : "multiplexed"}-stream` });
  if (!stdout && !stderr) return void ctx.res.end();
  // Following ends when the container's current run has been recorded as ended.
  const rt = ctx.engine.rt(c.Id);
  const stop = follow && rt.proc ? (rt.finished ?? Promise.resolve()) : Promise.resolve();
  const closed = new Promise<void>((r) => ctx.res.on("close", () => r()));
  const entries = readLogs(c.LogPath, { ...options, follow: follow && !!rt.proc }, Promise.race([stop, closed]));
  for await (const e of entries) {
    const data = timestamps ? withTimestamp(e) : e.text;
    if (!(await writeChunk(ctx.res, tty ? data : encodeFrame(e.stream === "stdout" ? 1 : 2, data)))) break;
  }
  ctx.res.end();
}
