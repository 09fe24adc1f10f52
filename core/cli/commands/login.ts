// berth login: check credentials with the registry (through the daemon) and
// keep them in ~/.docker/config.json, as docker login does.
import { invalidArgument } from "../../errors.ts";
import type { CommandDef } from "../args.ts";
import { serverKey, storeAuth, configPath } from "../auth-config.ts";
import { connect } from "../connect.ts";
import { print } from "../output.ts";

export const command: CommandDef = {
  name: "login",
  usage: "login [OPTIONS] [SERVER]",
  summary: "Log in to a registry",
  flags: [
    { name: "username", short: "u", kind: "string", help: "Username" },
    { name: "password", short: "p", kind: "string", help: "Password (prefer --password-stdin)" },
    { name: "password-stdin", kind: "bool", help: "Take the password from stdin" },
  ],
  maxArgs: 1,
  async run({ flags, args, global }) {
    const domain = (args[0] ?? "docker.io").replace(/^https?:\/\//, "").replace(/\/.*$/, "");
    const username = flags.string("username");
    let password = flags.string("password");
    if (flags.bool("password-stdin")) {
      if (password) throw invalidArgument("--password and --password-stdin are mutually exclusive");
      password = (await Bun.stdin.text()).replace(/\r?\n$/, "");
    }
    if (!username || password === undefined) throw invalidArgument("give --username and --password or --password-stdin", "berth does not prompt for credentials");
    const client = await connect(global);
    await client.json("POST", "/auth", { json: { username, password, serveraddress: serverKey(domain) } });
    storeAuth(domain, username, password);
    print(`Login Succeeded (credentials kept in ${configPath()})\n`);
    return 0;
  },
};
