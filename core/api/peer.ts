// Who is on the other end of an API connection: a unix-socket client's
// credentials (SO_PEERCRED, read once per connection, ~1 µs) or a TLS
// client's certificate subject. The listeners tag each connection; the
// server reads the tag of the request's socket.
import { dlopen, FFIType } from "bun:ffi";
import { readFileSync } from "node:fs";

export interface Peer {
  /** The client's uid (unix socket); a TLS client has none. */
  uid?: number;
  gid?: number;
  pid?: number;
  /** The subject CN of a TLS client's certificate. */
  cn?: string;
}

const peers = new WeakMap<object, Peer>();

export const tagPeer = (socket: object, peer: Peer) => void peers.set(socket, peer);
export const peerOf = (socket: object | null | undefined): Peer | undefined => (socket ? peers.get(socket) : undefined);

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;
let getsockopt: ((fd: number, level: number, name: number, val: Int32Array, len: Uint32Array) => number) | undefined;

/** struct ucred { pid, uid, gid } of a connected unix socket; undefined if the fd is not one. */
export function peerCred(fd: number): Peer | undefined {
  getsockopt ??= dlopen("libc.so.6", {
    getsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  }).symbols.getsockopt as unknown as typeof getsockopt;
  const cred = new Int32Array(3);
  const len = new Uint32Array([12]);
  if (getsockopt!(fd, SOL_SOCKET, SO_PEERCRED, cred, len) !== 0) return undefined;
  return { pid: cred[0]!, uid: cred[1]! >>> 0, gid: cred[2]! >>> 0 };
}

/** An entry of /etc/passwd or /etc/group by id or name: [name, id]. */
function lookup(file: string, key: string | number): [string, number] | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  for (const line of text.split("\n")) {
    const [name, , id] = line.split(":");
    if (name && id !== undefined && (name === key || Number(id) === key)) return [name, Number(id)];
  }
  return undefined;
}

const userNames = new Map<number, string>();

/** The user name of a uid ("" when /etc/passwd has none). */
export function userName(uid: number): string {
  let name = userNames.get(uid);
  if (name === undefined) userNames.set(uid, (name = lookup("/etc/passwd", uid)?.[0] ?? ""));
  return name;
}

/** A group given by name or number, as its gid; undefined when unknown. */
export function groupId(group: string): number | undefined {
  if (/^\d+$/.test(group)) return Number(group);
  return lookup("/etc/group", group)?.[1];
}
