import { Effect } from "effect"
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { repositoryRoot } from "./process.js"

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
  readonly exited: Effect.Effect<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
}

const waitMillis = 30_000

/**
 * Runs `node dist/bin/effect-net.js ...args` for the life of the scope,
 * collecting its output as bytes; it is killed when the scope ends.
 */
export const cli = (args: ReadonlyArray<string>, options?: { readonly input?: Uint8Array | string }) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child = spawn(process.execPath, [cliPath, ...args], { stdio: ["pipe", "pipe", "pipe"] })
      const stdout: Array<Buffer> = []
      let stderr = ""
      let exit: { readonly code: number | null; readonly signal: NodeJS.Signals | null } | undefined
      const listeners = new Set<() => void>()
      const notify = () => listeners.forEach((listener) => listener())
      child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk))
      child.stderr.setEncoding("utf8")
      child.stderr.on("data", (text: string) => {
        stderr += text
        notify()
      })
      child.stdin.on("error", () => {})
      child.on("error", (error) => {
        stderr += String(error)
        exit = { code: null, signal: null }
        notify()
      })
      // 'close', not 'exit': by then stdout and stderr are read to the end.
      child.on("close", (code, signal) => {
        exit = { code, signal }
        notify()
      })
      if (options?.input !== undefined) child.stdin.end(options.input)
      const waitFor = <A>(what: string, check: () => A | undefined): Effect.Effect<A, Error> =>
        Effect.async<A>((resume) => {
          const listener = () => {
            const found = check()
            if (found === undefined) return
            listeners.delete(listener)
            resume(Effect.succeed(found))
          }
          listeners.add(listener)
          listener()
          return Effect.sync(() => listeners.delete(listener))
        }).pipe(Effect.timeoutFail({
          duration: waitMillis,
          onTimeout: () => new Error(`effect-net ${args.join(" ")}: no ${what} within ${waitMillis} ms (stderr: ${stderr})`)
        }))
      const cliProcess: CliProcess = {
        stdout: () => Buffer.concat(stdout),
        stderr: () => stderr,
        listeningPort: Effect.flatMap(
          waitFor("first stderr line", () => (stderr.includes("\n") || exit !== undefined ? stderr.split("\n")[0] : undefined)),
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
        exited: Effect.orDie(waitFor("exit", () => exit))
      }
      return { child, cliProcess }
    }),
    ({ child }) =>
      Effect.async<void>((resume) => {
        if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
        child.once("exit", () => resume(Effect.void))
        child.kill("SIGKILL")
      })
  ).pipe(Effect.map(({ cliProcess }) => cliProcess))
