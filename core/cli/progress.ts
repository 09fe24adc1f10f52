// Showing a JSON message stream (pull, push, build) as the docker CLI does: on a
// terminal a line per layer, rewritten in place with its progress bar;
// otherwise plain lines without the progress ticks.
import { BerthError } from "../errors.ts";
import { print } from "./output.ts";

interface Message {
  status?: string;
  id?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message: string; code?: number };
  aux?: unknown;
  /** Build output: text as it comes. */
  stream?: string;
}

/** Print the stream; returns its aux messages; throws the stream's error. */
export async function showProgress(body: ReadableStream<Uint8Array>, tty: boolean, quiet = false): Promise<unknown[]> {
  const lines: string[] = []; // ids in the order their lines were made (terminal mode)
  const aux: unknown[] = [];
  let pending = "";
  const decoder = new TextDecoder();
  const show = (m: Message) => {
    if (m.errorDetail || m.error) {
      const err = new BerthError("Internal", m.errorDetail?.message ?? m.error!);
      // A failed RUN's exit code is the command's (docker build exits with it).
      if (m.errorDetail?.code) Object.assign(err, { exitCode: m.errorDetail.code });
      throw err;
    }
    if (m.aux !== undefined) return void aux.push(m.aux);
    if (m.stream !== undefined) return void (quiet ? undefined : print(m.stream));
    if (quiet || !m.status) return;
    const text = `${m.id ? `${m.id}: ` : ""}${m.status}${tty && m.progress ? ` ${m.progress}` : ""}`;
    if (!tty) {
      if (!m.progressDetail) print(`${text}\n`);
      return;
    }
    const at = m.id ? lines.indexOf(m.id) : -1;
    if (at < 0) {
      if (m.id) lines.push(m.id);
      else lines.push("");
      print(`${text}\n`);
      return;
    }
    const up = lines.length - at;
    print(`\x1b[${up}A\x1b[2K\r${text}\x1b[${up}B\r`);
  };
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    pending += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      if (line) show(JSON.parse(line) as Message);
    }
  }
  if (pending.trim()) show(JSON.parse(pending) as Message);
  return aux;
}
