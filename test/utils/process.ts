import { Effect } from "effect"
import { spawn } from "node:child_process"

export interface ChildProcess {
  /** Lines printed on stdout so far. */
  readonly lines: Array<string>
  /**
   * The first stdout line from index `after` on that matches `pattern`,
   * waiting for it at most 20 seconds.
   */
  readonly waitForLine: (pattern: RegExp, after?: number) => Effect.Effect<RegExpExecArray, Error>
  readonly writeLine: (line: string) => Effect.Effect<void>
  /** The exit code, once the process has exited (`null` if a signal ended it). */
  readonly exited: Effect.Effect<number | null>
  /** What the process printed on stderr, for failure messages. */
  readonly stderr: () => string
}

/** The repository's root folder. */
export const repositoryRoot = new URL("../..", import.meta.url).pathname

/**
 * Runs `command` for the life of the scope, collecting its stdout by line;
 * it is killed when the scope ends.
 */
export const childProcess = (command: string, args: ReadonlyArray<string>, options?: { readonly cwd?: string }) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child = spawn(command, args, { cwd: options?.cwd, stdio: ["pipe", "pipe", "pipe"] })
      const lines: Array<string> = []
      const listeners = new Set<() => void>()
      const notify = () => listeners.forEach((listener) => listener())
      let buffered = ""
      let stderr = ""
      let exitCode: { readonly code: number | null } | undefined
      child.stdout.setEncoding("utf8")
      child.stdout.on("data", (text: string) => {
        buffered += text
        const parts = buffered.split("\n")
        buffered = parts.pop() ?? ""
        lines.push(...parts)
        notify()
      })
      child.stderr.setEncoding("utf8")
      child.stderr.on("data", (text: string) => stderr += text)
      child.stdin.on("error", () => {})
      child.on("error", (error) => {
        stderr += String(error)
        exitCode = { code: null }
        notify()
      })
      child.on("exit", (code) => {
        exitCode = { code }
        notify()
      })
      const waitFor = <A>(check: () => A | undefined): Effect.Effect<A> =>
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
        })
      const process: ChildProcess = {
        lines,
        waitForLine: (pattern, after = 0) =>
          waitFor(() => {
            for (let index = after; index < lines.length; index++) {
              const match = pattern.exec(lines[index])
              if (match !== null) return match
            }
            return undefined
          }).pipe(
            Effect.timeoutFail({
              duration: "20 seconds",
              onTimeout: () => new Error(`no line matching ${pattern} (stderr: ${stderr.slice(-2000)})`)
            })
          ),
        writeLine: (line) => Effect.sync(() => void child.stdin.write(`${line}\n`)),
        exited: Effect.map(waitFor(() => exitCode), ({ code }) => code),
        stderr: () => stderr
      }
      return { child, process }
    }),
    ({ child }) =>
      Effect.async<void>((resume) => {
        if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
        child.once("exit", () => resume(Effect.void))
        child.stdin.end()
        child.kill("SIGKILL")
      })
  ).pipe(Effect.map(({ process }) => process))

/** Runs a Python program from test/fixtures for the life of the scope. */
export const python = (script: string, args: ReadonlyArray<string>) =>
  childProcess("python3", [new URL(`../fixtures/${script}`, import.meta.url).pathname, ...args])

/** Runs `bash -c script` in the repository root for the life of the scope. */
export const bashProcess = (script: string) => childProcess("bash", ["-c", script], { cwd: repositoryRoot })
