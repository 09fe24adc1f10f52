// The end-to-end suite (test/conformance/cli-suite.ts), run twice against
// berthd: once with the stock docker CLI, once with berth's own CLI.
import { berthCli, cliSuite, dockerCli } from "./conformance/cli-suite.ts";

cliSuite(dockerCli);
cliSuite(berthCli);
