#!/usr/bin/env node
/**
 * The `effect-net` command: TCP and UDP from the command line (netcat-style)
 * and a fault-injecting proxy, on effect-net. `effect-net --help` lists the
 * commands.
 *
 * @since 0.2.0
 */
import { readFileSync } from "node:fs"
import { main } from "../internal/cli/main.js"

// package.json is two folders up both from src/bin/ and from dist/bin/.
const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  readonly version: string
}

main(process.argv.slice(2), version)
