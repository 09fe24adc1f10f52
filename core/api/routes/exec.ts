// /containers/{id}/exec and /exec/{id}/...: docker exec.
import { createExec, inspectExec, resizeExec, startExec, type ExecCreateRequest } from "../../engine/exec.ts";
import { isKind, notFound, StartError } from "../../errors.ts";
import { json, type Ctx, type Router } from "../server.ts";
import { encodeFrame, StdStream } from "../stdcopy.ts";
import { intParam, pipeAttach } from "./util.ts";

export function execRoutes(r: Router) {
  r.on("POST", "/containers/{id}/exec", async (ctx) => {
    const c = ctx.engine.container(ctx.params.id!);
    json(ctx.res, 201, { Id: createExec(ctx.engine, c, await ctx.body<ExecCreateRequest>("exec-create")) });
  });
  r.on("POST", "/exec/{id}/start", async (ctx) => {
    mustSeeExec(ctx);
    // A hijacked start is attached (its JSON body has been taken by the upgrade); a plain one may detach.
    const body = ctx.hijack ? { Detach: false } : await ctx.body<{ Detach?: boolean; Tty?: boolean }>("exec-start");
    const session = ctx.engine.execs.get(ctx.params.id!);
    const tty = !!session?.record.ProcessConfig.tty;
    let stream;
    try {
      stream = await startExec(ctx.engine, ctx.params.id!, { detach: !!body.Detach });
    } catch (err) {
      // As Docker: a command that could not start is told in the stream (its exit code, 126, in exec inspect).
      if (!(err instanceof StartError) || body.Detach) throw err;
      const text = new TextEncoder().encode(`exec failed: ${err.message}\r\n`);
      const out = tty ? text : encodeFrame(StdStream.stdout, text);
      if (ctx.hijack) ctx.hijack(tty).end(out);
      else ctx.res.writeHead(200, { "Content-Type": `application/vnd.docker.${tty ? "raw" : "multiplexed"}-stream` }).end(out);
      return;
    }
    if (!stream) return void ctx.res.writeHead(200).end();
    const recorded = session?.exited ?? Promise.resolve();
    if (ctx.hijack) pipeAttach(ctx.hijack(tty), stream, session?.record.DetachKeys || "ctrl-p,ctrl-q", recorded);
    else {
      ctx.res.writeHead(200, { "Content-Type": `application/vnd.docker.${tty ? "raw" : "multiplexed"}-stream` });
      stream.pipe(ctx.res, { end: false });
      stream.on("end", () => void recorded.finally(() => ctx.res.end()));
    }
  });
  r.on("POST", "/exec/{id}/resize", (ctx) => {
    mustSeeExec(ctx);
    resizeExec(ctx.engine, ctx.params.id!, intParam(ctx, "h", 0, 0, 65535), intParam(ctx, "w", 0, 0, 65535));
    ctx.res.writeHead(200).end();
  });
  r.on("GET", "/exec/{id}/json", (ctx) => {
    mustSeeExec(ctx);
    json(ctx.res, 200, inspectExec(ctx.engine, ctx.params.id!));
  });
}

/** An exec of another user's container (--owner-scope) is absent. */
function mustSeeExec(ctx: Ctx) {
  const session = ctx.engine.execs.get(ctx.params.id!);
  if (!session) return; // the engine answers "No such exec instance"
  try {
    ctx.engine.container(session.record.ContainerID);
  } catch (err) {
    if (isKind(err, "NotFound")) throw notFound(`No such exec instance: ${ctx.params.id}`);
    throw err;
  }
}
