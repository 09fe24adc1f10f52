// Typed errors. Callers branch on `kind`, never on the message text.
// Every message says what went wrong and where (id, path, file:line);
// `hint` says what to do about it.

export type ErrorKind =
  | "NotModified"
  | "NotFound"
  | "AlreadyExists"
  | "InvalidArgument"
  | "NotSupported"
  | "FailedPrecondition"
  | "Conflict"
  | "PermissionDenied"
  | "Unavailable"
  | "Internal";

export class BerthError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = `BerthError(${kind})`;
  }
}

export const notFound = (msg: string, hint?: string) => new BerthError("NotFound", msg, hint);
/** Nothing to do: the object is already in the asked state (HTTP 304, as Docker answers start/stop). */
export const notModified = (msg: string) => new BerthError("NotModified", msg);
export const alreadyExists = (msg: string, hint?: string) => new BerthError("AlreadyExists", msg, hint);
export const invalidArgument = (msg: string, hint?: string) => new BerthError("InvalidArgument", msg, hint);
export const notSupported = (msg: string, hint?: string) => new BerthError("NotSupported", msg, hint);
export const failedPrecondition = (msg: string, hint?: string) => new BerthError("FailedPrecondition", msg, hint);
export const conflict = (msg: string, hint?: string) => new BerthError("Conflict", msg, hint);
export const permissionDenied = (msg: string, hint?: string) => new BerthError("PermissionDenied", msg, hint);
export const unavailable = (msg: string, hint?: string) => new BerthError("Unavailable", msg, hint);
export const internal = (msg: string, hint?: string) => new BerthError("Internal", msg, hint);

/**
 * A BerthError, also one made by another copy of this module (the CLI's
 * commands are separate bundles, each with its own classes).
 */
export function isBerthError(err: unknown): err is BerthError {
  return err instanceof BerthError || (err instanceof Error && err.name.startsWith("BerthError(") && typeof (err as BerthError).kind === "string");
}

export function isKind(err: unknown, kind: ErrorKind): err is BerthError {
  return isBerthError(err) && err.kind === kind;
}

/** The errno name of a Node/Bun fs error ("ENOENT"), or undefined. */
export function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

const kindOfErrno: Record<string, ErrorKind> = {
  ENOENT: "NotFound",
  EEXIST: "AlreadyExists",
  EINVAL: "InvalidArgument",
  EPERM: "PermissionDenied",
  EACCES: "PermissionDenied",
  EBUSY: "Conflict",
  ENOTEMPTY: "Conflict",
  ENOSYS: "NotSupported",
  EOPNOTSUPP: "NotSupported",
  ENODEV: "NotSupported",
};

/**
 * A failed system call: carries the errno, the call and the path it concerned.
 * `kind` overrides the errno's usual kind where a call gives it another sense
 * (rtnetlink answers ENODEV for "no such interface").
 */
export class SysError extends BerthError {
  constructor(
    readonly call: string,
    readonly errno: number,
    readonly code: string,
    readonly subject?: string,
    kind?: ErrorKind,
  ) {
    super(
      kind ?? kindOfErrno[code] ?? "Internal",
      `${call}${subject ? ` ${subject}` : ""}: ${code} (${strerror(code)})`,
    );
  }
}

/** Human text for the errno names berth meets most. */
export function strerror(code: string): string {
  return (
    {
      ENOENT: "no such file or directory",
      EEXIST: "file exists",
      EINVAL: "invalid argument",
      EPERM: "operation not permitted",
      EACCES: "permission denied",
      EBUSY: "device or resource busy",
      ENOTEMPTY: "directory not empty",
      ENOSYS: "function not implemented",
      EOPNOTSUPP: "operation not supported",
      ENODEV: "no such device",
      ENOTDIR: "not a directory",
      EISDIR: "is a directory",
      ENOEXEC: "exec format error",
      ESRCH: "no such process",
      ELOOP: "too many levels of symbolic links",
      ENOSPC: "no space left on device",
      EROFS: "read-only file system",
      EAGAIN: "resource temporarily unavailable",
      E2BIG: "argument list too long",
      ENOMEM: "cannot allocate memory",
      EXDEV: "invalid cross-device link",
      ENAMETOOLONG: "file name too long",
      EBADF: "bad file descriptor",
      ENOTSUP: "operation not supported",
      ENODATA: "no data available",
      ERANGE: "numerical result out of range",
      EADDRNOTAVAIL: "cannot assign requested address",
      ENETUNREACH: "network is unreachable",
      ENOBUFS: "no buffer space available",
    } as Record<string, string>
  )[code] ?? code.toLowerCase();
}

/**
 * A container process could not be started. `exitCode` follows Docker:
 * 125 the engine failed, 126 the command cannot be executed, 127 not found.
 */
export class StartError extends BerthError {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(exitCode === 127 ? "NotFound" : exitCode === 126 ? "PermissionDenied" : "FailedPrecondition", message);
  }
}
