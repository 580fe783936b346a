import { Effect } from "effect"
import { existsSync } from "node:fs"
import { type ExitStatus, repositoryRoot, spawnScoped } from "./process.js"

/** The built command line; `npm run build` makes it (the suite's `npm test` builds first). */
export const cliPath = `${repositoryRoot}dist/bin/effect-net.js`

export const requireBuiltCli = (): void => {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run \`npm run build\` first`)
}

export interface CliProcess {
  /** Everything printed on stdout so far, as bytes. */
  readonly stdout: () => Buffer
  readonly stderr: () => string
  /** The port of the `listening on HOST:PORT` line, once it is printed; fails unless it is stderr's first line. */
  readonly listeningPort: Effect.Effect<number, Error>
  readonly write: (data: Uint8Array | string) => Effect.Effect<void>
  readonly endInput: Effect.Effect<void>
  readonly kill: (signal: NodeJS.Signals) => Effect.Effect<void>
  /** The exit code, or the signal that ended it, once it has exited. */
  readonly exited: Effect.Effect<ExitStatus>
}

const waitMillis = 30_000

/**
 * Runs `node dist/bin/effect-net.js ...args` for the life of the scope,
 * collecting its output as bytes; it is killed when the scope ends.
 */
export const cli = (args: ReadonlyArray<string>, options?: { readonly input?: Uint8Array | string }) =>
  Effect.map(spawnScoped(process.execPath, [cliPath, ...args]), ({ child, closeStatus, stderr, waitFor }): CliProcess => {
    const stdout: Array<Buffer> = []
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk))
    if (options?.input !== undefined) child.stdin.end(options.input)
    const waitWithin = <A>(what: string, check: () => A | undefined): Effect.Effect<A, Error> =>
      waitFor(check).pipe(Effect.timeoutFail({
        duration: waitMillis,
        onTimeout: () => new Error(`effect-net ${args.join(" ")}: no ${what} within ${waitMillis} ms (stderr: ${stderr()})`)
      }))
    return {
      stdout: () => Buffer.concat(stdout),
      stderr,
      listeningPort: Effect.flatMap(
        waitWithin("first stderr line", () => {
          const text = stderr()
          return text.includes("\n") || closeStatus() !== undefined ? text.split("\n")[0] : undefined
        }),
        (line) => {
          const match = /^listening on (?:\d+\.\d+\.\d+\.\d+|\[[0-9a-f:]+\]):(\d+)$/.exec(line)
          return match === null
            ? Effect.fail(new Error(`first stderr line is not "listening on HOST:PORT": ${JSON.stringify(line)}`))
            : Effect.succeed(Number(match[1]))
        }
      ),
      write: (data) => Effect.sync(() => void child.stdin.write(data)),
      endInput: Effect.sync(() => void child.stdin.end()),
      kill: (signal) => Effect.sync(() => void child.kill(signal)),
      // The close, not the exit: by then stdout and stderr are read to the end.
      exited: Effect.orDie(waitWithin("exit", closeStatus))
    }
  })

/** `effect-net PROTOCOL listen --echo --once`, once it listens, and its port. */
export const echoListener = (protocol: "tcp" | "udp") =>
  Effect.gen(function*() {
    const listener = yield* cli([protocol, "listen", "--echo", "--once"])
    return { listener, port: yield* listener.listeningPort }
  })
