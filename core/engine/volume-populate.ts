// Docker's copy-up: the first time an empty named or anonymous volume is
// mounted into a container, it is filled with what the image has at the
// mount path (`VOLUME /var/lib/postgresql/data` gives the volume the image's
// files, owner and mode).
import { chmodSync, chownSync, lstatSync, readdirSync, rmSync } from "node:fs";
import { errnoCode, internal } from "../errors.ts";
import { resolveInRoot } from "../paths.ts";

/**
 * Fill the empty volume directory `volumeData` from `containerPath` in the
 * image's root filesystem `rootfs` (resolved inside it: a symlink never
 * leads out). Content is copied with owners, modes, symlinks, hard links,
 * xattrs and times; the directory's own owner and mode go onto
 * `volumeData`. Nothing happens when the path is not a directory in the
 * image, or when the volume already has content.
 *
 * Returns true when the volume was filled: the image's directory had
 * content, or was empty but still gave the volume its owner and mode (as
 * Docker does; a database image's empty, non-root data directory relies
 * on it).
 */
export async function populateVolume(rootfs: string, containerPath: string, volumeData: string): Promise<boolean> {
  const src = resolveInRoot(rootfs, containerPath);
  let st;
  try {
    st = lstatSync(src);
  } catch (err) {
    if (errnoCode(err) === "ENOENT" || errnoCode(err) === "ENOTDIR") return false;
    throw err;
  }
  if (!st.isDirectory()) return false;
  if (readdirSync(volumeData).length > 0) return false;

  if (readdirSync(src).length > 0) {
    // "SRC/." into "DST/": the content only, never the directory under a new name.
    const cp = Bun.spawn(["cp", "-a", "--reflink=auto", "--", `${src}/.`, `${volumeData}/`], { stdio: ["ignore", "ignore", "pipe"] });
    const stderr = await new Response(cp.stderr).text();
    if ((await cp.exited) !== 0) {
      // Empty again, so that the next mount tries again.
      for (const n of readdirSync(volumeData)) rmSync(`${volumeData}/${n}`, { recursive: true, force: true });
      throw internal(`copying the image's ${containerPath} into the volume at ${volumeData} failed: ${stderr.trim()}`);
    }
  }
  chownSync(volumeData, st.uid, st.gid);
  chmodSync(volumeData, st.mode & 0o7777);
  return true;
}
