// Linux capabilities by name, and Docker's default set.

export const CAPABILITIES: Record<string, number> = {
  CHOWN: 0, DAC_OVERRIDE: 1, DAC_READ_SEARCH: 2, FOWNER: 3, FSETID: 4, KILL: 5, SETGID: 6, SETUID: 7,
  SETPCAP: 8, LINUX_IMMUTABLE: 9, NET_BIND_SERVICE: 10, NET_BROADCAST: 11, NET_ADMIN: 12, NET_RAW: 13,
  IPC_LOCK: 14, IPC_OWNER: 15, SYS_MODULE: 16, SYS_RAWIO: 17, SYS_CHROOT: 18, SYS_PTRACE: 19,
  SYS_PACCT: 20, SYS_ADMIN: 21, SYS_BOOT: 22, SYS_NICE: 23, SYS_RESOURCE: 24, SYS_TIME: 25,
  SYS_TTY_CONFIG: 26, MKNOD: 27, LEASE: 28, AUDIT_WRITE: 29, AUDIT_CONTROL: 30, SETFCAP: 31,
  MAC_OVERRIDE: 32, MAC_ADMIN: 33, SYSLOG: 34, WAKE_ALARM: 35, BLOCK_SUSPEND: 36, AUDIT_READ: 37,
  PERFMON: 38, BPF: 39, CHECKPOINT_RESTORE: 40,
};

/** Docker's default capability set: CapEff 00000000a80425fb for root. */
export const DEFAULT_CAPABILITIES = [
  "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
  "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
];

/** The bit mask of a list of capability names; unknown names throw. */
export function capMask(names: string[]): bigint {
  let mask = 0n;
  for (const n of names) {
    const bit = CAPABILITIES[n];
    if (bit === undefined) throw new Error(`unknown capability "${n}"`);
    mask |= 1n << BigInt(bit);
  }
  return mask;
}

/** "cap_net_admin", "NET_ADMIN" or "CAP_NET_ADMIN" -> "NET_ADMIN"; "all" -> "ALL". */
function capName(raw: string): string {
  const n = raw.toUpperCase().replace(/^CAP_/, "");
  if (n !== "ALL" && CAPABILITIES[n] === undefined) throw new Error(`unknown capability: "${raw}"`);
  return n;
}

/**
 * A container's capabilities as Docker computes them from --cap-add and
 * --cap-drop: the default set, plus the added, minus the dropped ("ALL"
 * stands for every capability). Throws on an unknown name.
 */
export function containerCapabilities(add: string[] = [], drop: string[] = []): string[] {
  const adds = add.map(capName);
  const drops = drop.map(capName);
  const all = Object.keys(CAPABILITIES);
  let caps = new Set(adds.includes("ALL") ? all : [...DEFAULT_CAPABILITIES, ...adds]);
  if (drops.includes("ALL")) caps = new Set(adds.filter((c) => c !== "ALL"));
  else for (const c of drops) caps.delete(c);
  return all.filter((c) => caps.has(c));
}
