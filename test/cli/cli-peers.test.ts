/**
 * The built `effect-net` command line against programs not written on
 * effect-net: the seed's Python programs and socat (installed by .ci/run;
 * these tests require it).
 */
import { beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { cli, echoListener, requireBuiltCli } from "../utils/cli.js"
import { checkNoSocketLeaks } from "../utils/handles.js"
import { childProcess, python, spawnScoped } from "../utils/process.js"

checkNoSocketLeaks()
beforeAll(() => {
  requireBuiltCli()
  // Required, not optional: a missing socat fails here instead of skipping.
  execFileSync("socat", ["-V"], { stdio: "ignore" })
})

const timeout = 60_000

/** Runs socat with `input` on its stdin until it exits; its exit code and all it printed on stdout. */
const socat = (args: ReadonlyArray<string>, input: Uint8Array) =>
  Effect.gen(function*() {
    const { child, closeStatus, waitFor } = yield* spawnScoped("socat", args)
    const output: Array<Buffer> = []
    child.stdout.on("data", (chunk: Buffer) => output.push(chunk))
    child.stdin.end(input)
    const { code } = yield* within(waitFor(closeStatus))
    return { code, output: Buffer.concat(output) }
  })
const within = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.timeoutFail(effect, { duration: "40 seconds", onTimeout: () => new Error("timed out after 40 seconds") })

/** One of the seed's Python clients against the echoing listener: it prints the line `received` and both exit 0. */
const seedClientAgainstEcho = (protocol: "tcp" | "udp", script: string, received: string) =>
  Effect.scoped(Effect.gen(function*() {
    const { listener, port } = yield* echoListener(protocol)
    const client = yield* python(script, [String(port)])
    expect(yield* within(client.exited)).toBe(0)
    expect(client.lines).toEqual([received])
    expect((yield* within(listener.exited)).code).toBe(0)
  }))

/** socat as a client of the echoing listener: what socat got back, its exit code and the listener's. */
const socatAgainstEcho = (protocol: "tcp" | "udp", socatArgs: (port: number) => ReadonlyArray<string>, data: Uint8Array) =>
  Effect.gen(function*() {
    const { listener, port } = yield* echoListener(protocol)
    const { code, output } = yield* socat(socatArgs(port), data)
    return { code, output, listenerCode: (yield* within(listener.exited)).code }
  })

describe("effect-net CLI and the seed's Python programs", () => {
  it.live("tcp connect talks to the seed's TCP server", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* python("seed_tcp_server.py", ["0"])
      const port = (yield* within(server.waitForLine(/^Listening on (\d+)$/)))[1]
      const client = yield* cli(["tcp", "connect", "127.0.0.1", port], { input: "Hello, Server!" })
      expect(yield* within(client.exited)).toEqual({ code: 0, signal: null })
      expect(client.stdout().toString()).toBe("Hello, Client!")
      expect(yield* within(server.exited)).toBe(0)
      expect(server.lines).toContain("Received: Hello, Server!")
    })), timeout)

  it.live("the seed's TCP client talks to tcp listen --echo", () =>
    seedClientAgainstEcho("tcp", "seed_tcp_client.py", "Received: Hello, Server!"), timeout)

  it.live("udp send --wait talks to the seed's UDP server", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* python("seed_udp_server.py", ["0"])
      const port = (yield* within(server.waitForLine(/^Bound to 127\.0\.0\.1:(\d+)$/)))[1]
      const sender = yield* cli(["udp", "send", "127.0.0.1", port, "Hello, UDP Server!", "--wait", "20s"])
      expect(yield* within(sender.exited)).toEqual({ code: 0, signal: null })
      expect(sender.stdout().toString()).toBe("Hello, UDP Client!")
      expect(yield* within(server.exited)).toBe(0)
    })), timeout)

  it.live("the seed's UDP client talks to udp listen --echo", () =>
    seedClientAgainstEcho("udp", "seed_udp_client.py", "Received: Hello, UDP Server!"), timeout)
})

describe("effect-net CLI and socat", () => {
  it.live("socat sends a file through tcp listen --echo and gets it back byte for byte", () =>
    Effect.scoped(Effect.gen(function*() {
      const data = randomBytes(1024 * 1024)
      // socat half-closes after stdin's EOF and waits (-t) for the echo to end.
      const { code, listenerCode, output } = yield* socatAgainstEcho(
        "tcp",
        (port) => ["-t", "30", "-", `TCP:127.0.0.1:${port}`],
        data
      )
      expect(code).toBe(0)
      expect(output.equals(data)).toBe(true)
      expect(listenerCode).toBe(0)
    })), timeout)

  it.live("tcp connect sends a file to a socat echo server and gets it back byte for byte", () =>
    Effect.scoped(Effect.gen(function*() {
      const data = randomBytes(1024 * 1024)
      const server = yield* childProcess("bash", ["-c", "exec socat -d -d TCP-LISTEN:0,bind=127.0.0.1 EXEC:cat 2>&1"])
      const port = (yield* within(server.waitForLine(/listening on .*:(\d+)$/)))[1]
      const client = yield* cli(["tcp", "connect", "127.0.0.1", port], { input: data })
      expect(yield* within(client.exited)).toEqual({ code: 0, signal: null })
      expect(client.stdout().equals(data)).toBe(true)
    })), timeout)

  it.live("socat's UDP client gets its datagram back from udp listen --echo", () =>
    Effect.scoped(Effect.gen(function*() {
      const { code, listenerCode, output } = yield* socatAgainstEcho(
        "udp",
        (port) => ["-t", "2", "-", `UDP:127.0.0.1:${port}`],
        Buffer.from("over udp")
      )
      expect(code).toBe(0)
      expect(output.toString()).toBe("over udp")
      expect(listenerCode).toBe(0)
    })), timeout)
})
