import { pathToFileURL } from "node:url"

/** True when the module at `moduleUrl` is the script node (or tsx) was started with. */
export const isMain = (moduleUrl: string): boolean =>
  process.argv[1] !== undefined && moduleUrl === pathToFileURL(process.argv[1]).href
