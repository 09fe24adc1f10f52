// Build a small root filesystem tarball from Debian's busybox-static, for
// tests and examples that must work offline. Deterministic: the same
// busybox gives the same tarball, so the same image ID.
//
//   bin/mkimage-busybox OUT.tar        then: berth import OUT.tar busybox:local
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, relative } from "node:path";

const out = process.argv[2];
if (!out) {
  console.error("usage: mkimage-busybox OUT.tar");
  process.exit(2);
}
const sh = (argv: string[]) => {
  const p = Bun.spawnSync(argv, { stdout: "inherit", stderr: "inherit" });
  if (p.exitCode !== 0) throw new Error(`${argv.join(" ")} failed with exit code ${p.exitCode}`);
};
if (!existsSync("/bin/busybox")) sh(["apt-get", "install", "-y", "-q", "busybox-static"]);

const root = mkdtempSync("/tmp/mkimage-busybox-");
try {
  for (const d of ["bin", "sbin", "usr/bin", "usr/sbin", "etc", "root", "home/app", "proc", "sys", "dev", "tmp", "var/tmp", "var/run"]) {
    mkdirSync(`${root}/${d}`, { recursive: true });
  }
  copyFileSync("/bin/busybox", `${root}/bin/busybox`);
  chmodSync(`${root}/bin/busybox`, 0o755);
  const list = Bun.spawnSync(["/bin/busybox", "--list-full"]).stdout.toString().split("\n").filter(Boolean);
  for (const applet of list) {
    if (applet === "bin/busybox" || existsSync(`${root}/${applet}`)) continue;
    symlinkSync(relative(dirname(`/${applet}`), "/bin/busybox"), `${root}/${applet}`);
  }
  writeFileSync(`${root}/etc/passwd`, [
    "root:x:0:0:root:/root:/bin/sh",
    "daemon:x:1:1:daemon:/usr/sbin:/bin/false",
    "app:x:1000:1000:app:/home/app:/bin/sh",
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false",
    "",
  ].join("\n"));
  writeFileSync(`${root}/etc/group`, ["root:x:0:", "daemon:x:1:", "audio:x:29:app", "app:x:1000:", "nogroup:x:65534:", ""].join("\n"));
  writeFileSync(`${root}/etc/nsswitch.conf`, "hosts: files dns\n");
  chmodSync(root, 0o755);
  chmodSync(`${root}/tmp`, 0o1777);
  chmodSync(`${root}/var/tmp`, 0o1777);
  chmodSync(`${root}/root`, 0o700);
  chownSync(`${root}/home/app`, 1000, 1000);
  sh(["tar", "-C", root, "--sort=name", "--mtime=@0", "--numeric-owner", "-cf", `${out}.tmp`, "."]);
  renameSync(`${out}.tmp`, out);
} finally {
  rmSync(root, { recursive: true, force: true });
}
