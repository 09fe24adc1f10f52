// The event bus: every change of a container, image or volume becomes a
// Docker-shaped event, kept (the newest 10,000, in SQLite) for `since`
// queries and pushed to subscribers (GET /events, the TUI).
import type { StateDB } from "../state/db.ts";

export type EventType = "container" | "image" | "volume" | "network" | "daemon";

export interface DockerEvent {
  Type: EventType;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: "local";
  time: number;
  timeNano: number;
  /** Legacy fields Docker still sends for container and image events. */
  status?: string;
  id?: string;
  from?: string;
}

export type EventFilters = Record<string, string[]>;

export class EventLog {
  private readonly subscribers = new Set<(e: DockerEvent) => void>();
  private lastNano = 0;

  constructor(private readonly db: StateDB) {}

  emit(type: EventType, action: string, id: string, attributes: Record<string, string> = {}): DockerEvent {
    // Strictly increasing, so `since` at an event's time never misses the next one.
    const nano = Math.max(Date.now() * 1e6, this.lastNano + 1);
    this.lastNano = nano;
    const e: DockerEvent = { Type: type, Action: action, Actor: { ID: id, Attributes: attributes }, scope: "local", time: Math.floor(nano / 1e9), timeNano: nano };
    if (type === "container" || type === "image") {
      e.status = action;
      e.id = id;
      if (attributes.image) e.from = attributes.image;
    }
    this.db.addEvent(BigInt(Math.round(nano)), e);
    for (const s of this.subscribers) s(e);
    return e;
  }

  subscribe(fn: (e: DockerEvent) => void): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  /** Stored events between two times in seconds (fractional). */
  past(sinceSeconds: number, untilSeconds: number): DockerEvent[] {
    return this.db.eventsBetween(BigInt(Math.floor(sinceSeconds * 1e9)), BigInt(Math.floor(untilSeconds * 1e9))) as DockerEvent[];
  }
}

/** Docker's event filters: type, event, container, image, volume, network, label, scope. */
export function matchEvent(e: DockerEvent, f: EventFilters): boolean {
  const any = (key: string, ok: (v: string) => boolean) => !f[key]?.length || f[key]!.some(ok);
  const attrs = e.Actor.Attributes;
  return (
    any("type", (v) => v === e.Type) &&
    any("event", (v) => v === e.Action || e.Action.startsWith(`${v}:`)) &&
    any("scope", (v) => v === e.scope) &&
    any("container", (v) => e.Type === "container" && (e.Actor.ID.startsWith(v) || attrs.name === v)) &&
    any("image", (v) => (e.Type === "image" && (e.Actor.ID === v || attrs.name === v)) || attrs.image === v) &&
    any("volume", (v) => e.Type === "volume" && e.Actor.ID === v) &&
    any("network", (v) => e.Type === "network" && (e.Actor.ID === v || attrs.name === v)) &&
    any("label", (v) => {
      const eq = v.indexOf("=");
      return eq < 0 ? v in attrs : attrs[v.slice(0, eq)] === v.slice(eq + 1);
    })
  );
}
