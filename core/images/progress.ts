// Progress of pulls and pushes, as Docker's JSON message stream carries it
// (the docker CLI draws its bars from these lines):
//   {"status":"Downloading","progressDetail":{"current":1024,"total":4096},"progress":"[===>   ] 1.024kB/4.096kB","id":"a3ed95caeb02"}

export interface Progress {
  /** A line of status ("Pulling fs layer"), for one layer (`id`) or the whole image. */
  status(text: string, id?: string): void;
  /** Bytes done of one layer's download, extraction or upload. */
  progress(action: string, id: string, current: number, total: number): void;
}

export interface JsonMessage {
  status: string;
  id?: string;
  progressDetail?: { current: number; total: number };
  progress?: string;
}

/** Docker's units.HumanSize with 3 significant digits (decimal units). */
function human(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${Number(n.toPrecision(3))}${units[i]}`;
}

/** Docker's progress bar text: 50 columns of "=" and ">", then current/total. */
export function progressBar(current: number, total: number): string {
  if (!total) return human(current);
  const width = 50;
  const filled = Math.min(width, Math.floor((current / total) * width));
  const bar = filled >= width ? "=".repeat(width) : `${"=".repeat(filled)}>${" ".repeat(width - filled - 1)}`;
  return `[${bar}] ${human(current)}/${human(total)}`;
}

/** Progress as JSON messages to `emit`, at most one progress line per layer and action every 100 ms. */
export function jsonProgress(emit: (m: JsonMessage) => void): Progress {
  const last = new Map<string, number>();
  return {
    status: (status, id) => emit(id ? { status, id } : { status }),
    progress(action, id, current, total) {
      const key = `${action} ${id}`;
      const now = Date.now();
      if (current < total && now - (last.get(key) ?? 0) < 100) return;
      last.set(key, now);
      emit({ status: action, id, progressDetail: { current, total }, progress: progressBar(current, total) });
    },
  };
}
