// Who created a container, image, network or volume, and who may see it.
// The API server runs each request "as" its client (AsyncLocalStorage, so
// the engine's code needs no extra argument): new records take the
// client's Owner (core/state/db.ts), and with berthd --owner-scope a
// client other than root sees only its own objects (lookups answer 404 as
// if the others were absent). Outside a request (start-up, recovery,
// restart policies) nothing is restricted.
import { AsyncLocalStorage } from "node:async_hooks";

/** Shown in inspect beside Docker's fields: {"Uid": 1000, "User": "alice"} or, over TLS, {"User": "alice", "CN": "alice"}. */
export interface Owner {
  /** A unix-socket client's uid. */
  Uid?: number;
  /** Its user name (from /etc/passwd; "" when none), or a TLS client's certificate CN. */
  User: string;
  /** A TLS client's certificate subject CN. */
  CN?: string;
}

export interface Requester {
  owner: Owner;
  /** uid 0 on the unix socket: sees everything. */
  root: boolean;
  /** berthd --owner-scope. */
  scoped: boolean;
}

const current = new AsyncLocalStorage<Requester>();

export const runAs = <T>(r: Requester, fn: () => T): T => current.run(r, fn);
export const requester = (): Requester | undefined => current.getStore();

/** The Owner a record created now gets (undefined outside a request). */
export const currentOwner = (): Owner | undefined => current.getStore()?.owner;

export function sameOwner(a: Owner | undefined, b: Owner | undefined): boolean {
  if (!a || !b) return false;
  if (a.Uid !== undefined || b.Uid !== undefined) return a.Uid === b.Uid && a.CN === undefined && b.CN === undefined;
  return a.CN !== undefined && a.CN === b.CN;
}

/**
 * May the current client see (and act on) an object of this owner? An
 * object without one (made by berthd itself, or before owners were
 * recorded) is root's, unless `shared` (the predefined networks).
 */
export function visible(owner: Owner | undefined, shared = false): boolean {
  const r = current.getStore();
  if (!r || !r.scoped || r.root) return true;
  if (!owner) return shared;
  return sameOwner(owner, r.owner);
}

/** "uid 1000 (alice)", "certificate CN alice": for messages. */
export function ownerText(o: Owner | undefined): string {
  if (!o) return "berthd";
  if (o.Uid !== undefined) return `uid ${o.Uid}${o.User ? ` (${o.User})` : ""}`;
  return `certificate CN ${o.CN}`;
}
