import * as PlatformError from "@effect/platform/Error"
import * as Terminal from "@effect/platform/Terminal"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Mailbox from "effect/Mailbox"
import * as Option from "effect/Option"
import * as Readline from "node:readline"

/**
 * A `Terminal` on the process's stdin and stdout, for @effect/cli's prompts
 * (`--wizard`). The same as @effect/platform-node's, which this package
 * cannot load: it is only a dev dependency.
 */
const make = Effect.sync((): Terminal.Terminal => {
  const stdout = process.stdout
  // One readline interface per use, closed with its scope, so that an
  // unused terminal leaves stdin untouched (not even opened).
  const readlineInterface = Effect.acquireRelease(
    Effect.sync(() => {
      const stdin = process.stdin
      const rl = Readline.createInterface({ input: stdin, escapeCodeTimeout: 50 })
      Readline.emitKeypressEvents(stdin, rl)
      if (stdin.isTTY) stdin.setRawMode(true)
      return rl
    }),
    (rl) =>
      Effect.sync(() => {
        if (process.stdin.isTTY) process.stdin.setRawMode(false)
        rl.close()
      })
  )
  return {
    columns: Effect.sync(() => stdout.columns ?? 0),
    rows: Effect.sync(() => stdout.rows ?? 0),
    isTTY: Effect.sync(() => stdout.isTTY === true),
    readInput: Effect.gen(function*() {
      yield* readlineInterface
      const mailbox = yield* Mailbox.make<Terminal.UserInput>()
      const onKeypress = (input: string | undefined, key: Readline.Key) => {
        const userInput: Terminal.UserInput = {
          input: Option.fromNullable(input),
          key: { name: key.name ?? "", ctrl: key.ctrl === true, meta: key.meta === true, shift: key.shift === true }
        }
        mailbox.unsafeOffer(userInput)
        if (userInput.key.ctrl && (userInput.key.name === "c" || userInput.key.name === "d")) mailbox.unsafeDone(Exit.void)
      }
      process.stdin.on("keypress", onKeypress)
      yield* Effect.addFinalizer(() => Effect.sync(() => process.stdin.off("keypress", onKeypress)))
      return mailbox
    }),
    readLine: Effect.scoped(Effect.flatMap(readlineInterface, (rl) =>
      Effect.async<string, Terminal.QuitException>((resume) => {
        const onLine = (line: string) => resume(Effect.succeed(line))
        const onClose = () => resume(Effect.fail(new Terminal.QuitException()))
        rl.once("line", onLine)
        rl.once("close", onClose)
        return Effect.sync(() => {
          rl.off("line", onLine)
          rl.off("close", onClose)
        })
      }))),
    display: (text) =>
      Effect.async<void, PlatformError.PlatformError>((resume) => {
        stdout.write(text, (error) =>
          resume(
            error === null || error === undefined ? Effect.void : Effect.fail(
              new PlatformError.SystemError({
                reason: "Unknown",
                module: "Terminal",
                method: "display",
                description: error.message,
                cause: error
              })
            )
          ))
      })
  }
})

/**
 * @internal
 */
export const layer: Layer.Layer<Terminal.Terminal> = Layer.effect(Terminal.Terminal, make)
