// berth logout: forget a registry's credentials, as docker logout does.
import type { CommandDef } from "../args.ts";
import { removeAuth, serverKey } from "../auth-config.ts";
import { print } from "../output.ts";

export const command: CommandDef = {
  name: "logout",
  usage: "logout [SERVER]",
  summary: "Log out from a registry",
  flags: [],
  maxArgs: 1,
  async run({ args }) {
    const domain = (args[0] ?? "docker.io").replace(/^https?:\/\//, "").replace(/\/.*$/, "");
    print(removeAuth(domain) ? `Removing login credentials for ${serverKey(domain)}\n` : `Not logged in to ${serverKey(domain)}\n`);
    return 0;
  },
};
