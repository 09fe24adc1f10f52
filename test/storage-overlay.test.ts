import { storageConformance } from "./conformance/storage.ts";
import { pluginInstance } from "./helpers/plugins.ts";

storageConformance("overlay", (root) => pluginInstance("storage", "overlay", root));
