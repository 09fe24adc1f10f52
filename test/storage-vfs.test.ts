import { storageConformance } from "./conformance/storage.ts";
import { pluginInstance } from "./helpers/plugins.ts";

storageConformance("vfs", (root) => pluginInstance("storage", "vfs", root));
