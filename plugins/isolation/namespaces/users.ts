// Resolving "user[:group]" against a container's /etc/passwd and
// /etc/group, with runc's rules (numeric ids need no entry; names do).
import { BerthError } from "../../../core/errors.ts";

export interface ExecUser {
  uid: number;
  gid: number;
  groups: number[];
  home: string;
}

interface PasswdEntry { name: string; uid: number; gid: number; home: string }
interface GroupEntry { name: string; gid: number; members: string[] }

export function parsePasswd(text: string): PasswdEntry[] {
  return text.split("\n").flatMap((line) => {
    const f = line.split(":");
    if (line.startsWith("#") || f.length < 7) return [];
    return [{ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5]! }];
  });
}

export function parseGroup(text: string): GroupEntry[] {
  return text.split("\n").flatMap((line) => {
    const f = line.split(":");
    if (line.startsWith("#") || f.length < 4) return [];
    return [{ name: f[0]!, gid: Number(f[2]), members: f[3]!.split(",").filter(Boolean) }];
  });
}

const isId = (s: string) => /^\d+$/.test(s);

/**
 * @param spec "", "name", "uid", "name:group", "uid:gid", ...
 * @param passwd contents of /etc/passwd ("" when missing)
 * @param group contents of /etc/group ("" when missing)
 */
export function resolveUser(spec: string, passwd: string, group: string): ExecUser {
  const [userPart = "", groupPart] = spec.split(":", 2);
  const users = parsePasswd(passwd);
  const groups = parseGroup(group);

  let uid = 0;
  let gid = 0;
  let home = "/";
  let name: string | undefined;
  const wanted = userPart === "" ? "0" : userPart;
  const entry = users.find((u) => (isId(wanted) ? u.uid === Number(wanted) : u.name === wanted));
  if (entry) {
    ({ uid, gid, home, name } = entry);
  } else if (isId(wanted)) {
    uid = Number(wanted);
  } else {
    throw new BerthError("InvalidArgument", `unable to find user ${wanted}: no matching entries in passwd file`);
  }

  if (groupPart !== undefined && groupPart !== "") {
    const g = groups.find((x) => (isId(groupPart) ? x.gid === Number(groupPart) : x.name === groupPart));
    if (g) gid = g.gid;
    else if (isId(groupPart)) gid = Number(groupPart);
    else throw new BerthError("InvalidArgument", `unable to find group ${groupPart}: no matching entries in group file`);
  }

  const supplementary = name ? groups.filter((g) => g.members.includes(name!)).map((g) => g.gid) : [];
  return { uid, gid, groups: [...new Set(supplementary)], home };
}
