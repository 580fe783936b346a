import * as CliConfig from "@effect/cli/CliConfig"
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Usage from "@effect/cli/Usage"
import * as ValidationError from "@effect/cli/ValidationError"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as NodeNetwork from "../../NodeNetwork.js"
import { root, usages } from "./commands.js"
import { flush } from "./stdio.js"
import * as Terminal from "./terminal.js"

/**
 * What @effect/cli needs, without @effect/platform-node (a dev dependency
 * only): the commands read no files, so the file system is a no-op. Logs go
 * to stderr: stdout carries the data.
 */
const environment = Layer.mergeAll(
  NodeNetwork.layer,
  Path.layer,
  FileSystem.layerNoop({}),
  Terminal.layer,
  Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger))
)

const exitCodes = { usage: 2, failure: 1, defect: 70, SIGINT: 130, SIGTERM: 143 } as const

/** @effect/cli colours what it renders; the usage on stderr goes out plain. */
const ansi = /\u001b\[[0-9;]*m/g

/**
 * Colours only on a terminal: help piped into a file, a pager or a test
 * reads as plain text.
 */
const plainWhenPiped = (console: Console.Console): Console.Console => {
  const plain = (stream: NodeJS.WriteStream, write: (...args: ReadonlyArray<unknown>) => void) =>
    stream.isTTY === true
      ? write
      : (...args: ReadonlyArray<unknown>) => write(...args.map((arg) => typeof arg === "string" ? arg.replace(ansi, "") : arg))
  const log = plain(process.stdout, console.unsafe.log)
  const error = plain(process.stderr, console.unsafe.error)
  return {
    ...console,
    log: (...args) => Effect.sync(() => log(...args)),
    error: (...args) => Effect.sync(() => error(...args)),
    unsafe: { ...console.unsafe, log, error }
  }
}

/** The usage lines of the command `args` name (the deepest one that matches). */
const usageOf = (args: ReadonlyArray<string>): string => {
  const words = args.filter((arg) => !arg.startsWith("-"))
  const [path, usage] = usages.find(([path]) => path.every((word, index) => words[index] === word))!
  // Each line starts with the command's own name; its parents go first.
  const lines = Usage.enumerate(usage, CliConfig.defaultConfig).map((span) =>
    ["effect-net", ...path, HelpDoc.toAnsiText(HelpDoc.p(span)).replace(ansi, "").trim().replace(/^\S+\s*/, "")]
      .filter((part) => part !== "").join(" ")
  )
  return `usage:\n${lines.map((line) => `  ${line}`).join("\n")}\n`
}

/** The message of a typed error; every error here carries one. */
const messageOf = (error: unknown): string =>
  Predicate.hasProperty(error, "message") && typeof error.message === "string" ? error.message : String(error)

/**
 * Runs the command line in `args` (without node and the script) and exits:
 * 0 on success; 2 on a usage error, with the usage (@effect/cli has printed
 * what is wrong); 1 on a typed error, its message on stderr and no stack
 * trace; 130 / 143 after SIGINT / SIGTERM, once the program is interrupted
 * and its sockets are closed. A second signal exits at once (Node's default).
 *
 * @internal
 */
export const main = (args: ReadonlyArray<string>, version: string): void => {
  // A closed stderr leaves nowhere to report anything, but must not crash
  // the process with an unhandled 'error' either.
  process.stderr.on("error", () => {})
  const cli = Command.run(root, { name: "effect-net", version })
  const program = Effect.scoped(cli(["node", "effect-net", ...args])).pipe(
    (run) => Effect.flatMap(Effect.console, (console) => Effect.withConsole(run, plainWhenPiped(console))),
    Effect.provide(environment)
  )
  const fiber = Effect.runFork(program)
  let signal: "SIGINT" | "SIGTERM" | undefined
  const onSignal = (name: "SIGINT" | "SIGTERM") => () => {
    signal ??= name
    fiber.unsafeInterruptAsFork(fiber.id())
  }
  const onInterrupt = onSignal("SIGINT")
  const onTerminate = onSignal("SIGTERM")
  process.once("SIGINT", onInterrupt)
  process.once("SIGTERM", onTerminate)

  fiber.addObserver((exit) => {
    process.off("SIGINT", onInterrupt)
    process.off("SIGTERM", onTerminate)
    let code: number = 0
    if (signal !== undefined) code = exitCodes[signal]
    else if (Exit.isFailure(exit)) {
      const failure = Cause.failureOption(exit.cause)
      if (Option.isSome(failure) && ValidationError.isValidationError(failure.value)) {
        process.stderr.write(usageOf(args))
        code = exitCodes.usage
      } else if (Option.isSome(failure)) {
        process.stderr.write(`effect-net: ${messageOf(failure.value)}\n`)
        code = exitCodes.failure
      } else {
        process.stderr.write(`effect-net: internal error\n${Cause.pretty(exit.cause)}\n`)
        code = exitCodes.defect
      }
    }
    // Exit explicitly (stdin may still hold the event loop open), once what
    // was written has reached the OS.
    void Promise.all([flush(process.stdout), flush(process.stderr)]).then(() => process.exit(code))
  })
}
