// Helpers for the API routes: query flags, Docker's filters parameter, and
// the byte pump between a hijacked client connection and a monitor.
import type { Duplex } from "node:stream";
import { invalidArgument, permissionDenied } from "../../errors.ts";
import { requester } from "../../owner.ts";
import { jsonProgress, type Progress } from "../../images/progress.ts";
import { errorMessage, type Ctx } from "../server.ts";

/** A boolean query parameter as Docker reads them ("1", "true"). */
export function flag(ctx: Ctx, key: string): boolean {
  const v = ctx.query.get(key);
  return v === "1" || v === "true" || v === "True";
}

/**
 * An integer query parameter in [min, max] (`fallback` when absent):
 * "abc", "1.5", "NaN", "1e400" and values out of range are a 400.
 */
export function intParam(ctx: Ctx, key: string, fallback: number, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
  const v = ctx.query.get(key);
  if (v === null || v === "") return fallback;
  const n = Number(v);
  if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw invalidArgument(`invalid value for ${key}: "${v.slice(0, 100)}" (an integer from ${min} to ${max})`);
  }
  return n;
}

/** The `filters` parameter: {"key": ["v"]} or the older {"key": {"v": true}}. */
export function parseFilters(raw: string | null): Record<string, string[]> {
  if (!raw) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw invalidArgument(`invalid filters: ${raw}`);
  }
  const out: Record<string, string[]> = {};
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw invalidArgument(`invalid filters: ${raw}`);
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (Array.isArray(v)) out[k] = v.map(String);
    else if (typeof v === "object" && v !== null) out[k] = Object.keys(v);
    else throw invalidArgument(`invalid filter "${k}": ${JSON.stringify(v)} (use {"${k}": ["value"]})`);
  }
  return out;
}

/** Docker's detach keys ("ctrl-p,ctrl-q") as bytes. */
export function detachBytes(spec: string): number[] {
  return spec.split(",").map((k) => {
    const m = /^ctrl-([a-z@\[\\\]^_])$/.exec(k.trim());
    if (m) return m[1]!.charCodeAt(0) & 0x1f;
    if (k.length === 1) return k.charCodeAt(0);
    throw invalidArgument(`invalid detach keys "${spec}"`);
  });
}

/**
 * Connect a client's hijacked connection to a monitor's attach stream:
 * output to the client, input to the monitor, until either side ends. The
 * detach key sequence in the input leaves the container running. The
 * client's connection ends once the output has and `recorded` (the exit
 * being on record) has settled: the docker CLI asks for the exit code next.
 */
export function pipeAttach(client: Duplex, monitor: Duplex, detachKeys: string, recorded: Promise<unknown> = Promise.resolve()) {
  const keys = detachKeys ? detachBytes(detachKeys) : [];
  let matched = 0;
  monitor.on("data", (d: Buffer) => client.write(d));
  monitor.on("end", () => void recorded.finally(() => client.end()));
  monitor.on("error", () => client.destroy());
  client.on("data", (d: Buffer) => {
    if (keys.length) {
      for (const b of d) {
        matched = b === keys[matched] ? matched + 1 : b === keys[0] ? 1 : 0;
        if (matched === keys.length) {
          monitor.destroy();
          client.end();
          return;
        }
      }
    }
    monitor.write(d);
  });
  client.on("end", () => monitor.end());
  client.on("error", () => monitor.destroy());
  client.on("close", () => monitor.destroy());
}

/**
 * Write a chunk to a streaming response, waiting while the client is slow.
 * Resolves false once the client has gone (so a producer holding a mount or
 * a lock stops instead of waiting for a "drain" that never comes).
 */
export function writeChunk(res: Ctx["res"], chunk: Uint8Array | string): Promise<boolean> | boolean {
  if (res.destroyed || res.writableEnded) return false;
  if (res.write(chunk)) return true;
  return new Promise<boolean>((resolve) => {
    const done = (ok: boolean) => {
      res.off("drain", onDrain);
      res.off("close", onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    res.on("drain", onDrain);
    res.on("close", onClose);
  });
}

/**
 * A JSON message stream (pull, push, build): progress lines as they come; an error
 * before the first line is the usual {"message"} answer, after it a line of
 * {"errorDetail", "error"}, as Docker sends it.
 */
export async function jsonStream(ctx: Ctx, work: (progress: Progress, emit: (m: object) => void) => Promise<void>) {
  let started = false;
  const emit = (m: object) => {
    if (!started) {
      ctx.res.writeHead(200, { "Content-Type": "application/json" });
      started = true;
    }
    ctx.res.write(`${JSON.stringify(m)}\n`);
  };
  try {
    await work(jsonProgress(emit), emit);
  } catch (err) {
    if (!started) throw err;
    const message = errorMessage(err);
    // A failed RUN's exit code travels as errorDetail.code: docker build exits with it.
    const code = (err as { exitCode?: unknown }).exitCode;
    emit({ errorDetail: typeof code === "number" ? { code, message } : { message }, error: message });
  }
  if (!started) ctx.res.writeHead(200, { "Content-Type": "application/json" });
  ctx.res.end();
}

/**
 * Under --owner-scope, what reads host paths as berthd (compose watch's
 * project files, a build's ?contextdir=) or acts through berthd's own
 * connection is root's alone.
 */
export function rootOnly(what: string) {
  const r = requester();
  if (r?.scoped && !r.root) throw permissionDenied(`${what} is for root only on a daemon with --owner-scope: it reads host files as berthd`);
}
