// nftables through libnftables (bun:ffi), the library the `nft` command is
// made of: the same command language, without starting a process for each
// change (a network's creation, a container's published ports). Where the
// library cannot be loaded, the `nft` command runs instead.
import { dlopen, FFIType, type Pointer } from "bun:ffi";

export interface NftResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface NftOptions {
  /** Print rule handles (nft -a). */
  handles?: boolean;
  /** Print JSON (nft -j). */
  json?: boolean;
}

// libnftables.h: enum nft_output_flags.
const OUTPUT_HANDLE = 1 << 3;
const OUTPUT_JSON = 1 << 4;

const { ptr, u32, i32, cstring } = FFIType;

type Lib = ReturnType<typeof open>;
let lib: Lib | null | undefined;

function open() {
  return dlopen("libnftables.so.1", {
    nft_ctx_new: { args: [u32], returns: ptr },
    nft_ctx_free: { args: [ptr], returns: FFIType.void },
    nft_ctx_buffer_output: { args: [ptr], returns: i32 },
    nft_ctx_buffer_error: { args: [ptr], returns: i32 },
    nft_ctx_get_output_buffer: { args: [ptr], returns: cstring },
    nft_ctx_get_error_buffer: { args: [ptr], returns: cstring },
    nft_ctx_output_set_flags: { args: [ptr, u32], returns: FFIType.void },
    nft_run_cmd_from_buffer: { args: [ptr, cstring], returns: i32 },
  }).symbols;
}

function library(): Lib | null {
  if (lib === undefined) {
    try {
      lib = open();
    } catch {
      lib = null; // no libnftables here: the nft command it is
    }
  }
  return lib;
}

/** Run nft commands (a script, as `nft -f -` reads it); exit code and output as the command gives them. */
export async function nftRun(commands: string, opts: NftOptions = {}): Promise<NftResult> {
  const l = library();
  if (!l) return nftCommand(commands, opts);
  const ctx = l.nft_ctx_new(0) as Pointer | null;
  if (!ctx) return nftCommand(commands, opts);
  try {
    l.nft_ctx_buffer_output(ctx);
    l.nft_ctx_buffer_error(ctx);
    l.nft_ctx_output_set_flags(ctx, (opts.handles ? OUTPUT_HANDLE : 0) | (opts.json ? OUTPUT_JSON : 0));
    const code = l.nft_run_cmd_from_buffer(ctx, Buffer.from(`${commands}\0`));
    return { code: code === 0 ? 0 : 1, stdout: String(l.nft_ctx_get_output_buffer(ctx) ?? ""), stderr: String(l.nft_ctx_get_error_buffer(ctx) ?? "") };
  } finally {
    l.nft_ctx_free(ctx);
  }
}

async function nftCommand(commands: string, opts: NftOptions): Promise<NftResult> {
  const argv = ["nft", ...(opts.handles ? ["-a"] : []), ...(opts.json ? ["-j"] : []), "-f", "-"];
  const p = Bun.spawn(argv, { stdin: new TextEncoder().encode(commands), stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}
