import { Effect } from "effect"
import * as NodeChildProcess from "node:child_process"

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

/** How a child process ended: its exit code, or the signal that ended it (both `null` if it never started). */
export interface ExitStatus {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

/** A child process run for the life of a scope, and what it has done so far. */
export interface Spawned {
  readonly child: NodeChildProcess.ChildProcessWithoutNullStreams
  /** What it printed on stderr so far. */
  readonly stderr: () => string
  /** How it ended, once it has exited. */
  readonly exitStatus: () => ExitStatus | undefined
  /** How it ended, once its stdout and stderr are also read to the end. */
  readonly closeStatus: () => ExitStatus | undefined
  /** Wakes the waits, for output the caller collects itself. */
  readonly changed: () => void
  /** Waits until `check` finds something, checking again on every change (stderr, exit, `changed`). */
  readonly waitFor: <A>(check: () => A | undefined) => Effect.Effect<A>
}

/**
 * Spawns `command` for the life of the scope, with piped stdio; it is killed
 * when the scope ends. Its stdout is left to the caller: a stream is paused
 * until it has a listener, so nothing is lost before one is added.
 */
export const spawnScoped = (command: string, args: ReadonlyArray<string>, options?: { readonly cwd?: string }) =>
  Effect.acquireRelease(
    Effect.sync((): Spawned => {
      const child = NodeChildProcess.spawn(command, args, { cwd: options?.cwd, stdio: ["pipe", "pipe", "pipe"] })
      const listeners = new Set<() => void>()
      const changed = () => listeners.forEach((listener) => listener())
      let stderr = ""
      let exitStatus: ExitStatus | undefined
      let closeStatus: ExitStatus | undefined
      child.stderr.setEncoding("utf8")
      child.stderr.on("data", (text: string) => {
        stderr += text
        changed()
      })
      child.stdin.on("error", () => {})
      child.on("error", (error) => {
        stderr += String(error)
        exitStatus = closeStatus = { code: null, signal: null }
        changed()
      })
      child.on("exit", (code, signal) => {
        exitStatus = { code, signal }
        changed()
      })
      child.on("close", (code, signal) => {
        closeStatus = { code, signal }
        changed()
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
      return {
        child,
        stderr: () => stderr,
        exitStatus: () => exitStatus,
        closeStatus: () => closeStatus,
        changed,
        waitFor
      }
    }),
    ({ child }) =>
      Effect.async<void>((resume) => {
        if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
        child.once("exit", () => resume(Effect.void))
        child.stdin.end()
        child.kill("SIGKILL")
      })
  )

/**
 * Runs `command` for the life of the scope, collecting its stdout by line;
 * it is killed when the scope ends.
 */
export const childProcess = (command: string, args: ReadonlyArray<string>, options?: { readonly cwd?: string }) =>
  Effect.map(spawnScoped(command, args, options), ({ changed, child, exitStatus, stderr, waitFor }): ChildProcess => {
    const lines: Array<string> = []
    let buffered = ""
    child.stdout.setEncoding("utf8")
    child.stdout.on("data", (text: string) => {
      buffered += text
      const parts = buffered.split("\n")
      buffered = parts.pop() ?? ""
      lines.push(...parts)
      changed()
    })
    return {
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
            onTimeout: () => new Error(`no line matching ${pattern} (stderr: ${stderr().slice(-2000)})`)
          })
        ),
      writeLine: (line) => Effect.sync(() => void child.stdin.write(`${line}\n`)),
      exited: Effect.map(waitFor(exitStatus), ({ code }) => code),
      stderr
    }
  })

/** Runs a Python program from test/fixtures for the life of the scope. */
export const python = (script: string, args: ReadonlyArray<string>) =>
  childProcess("python3", [new URL(`../fixtures/${script}`, import.meta.url).pathname, ...args])

/** Runs `bash -c script` in the repository root for the life of the scope. */
export const bashProcess = (script: string) => childProcess("bash", ["-c", script], { cwd: repositoryRoot })
