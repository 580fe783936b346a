/**
 * The built `effect-net` command line, spawned as users run it (`node
 * dist/bin/effect-net.js`): exit codes, messages, signals, and netcat duty
 * against itself and against in-process effect-net peers.
 */
import { beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Option, Stream } from "effect"
import { randomBytes } from "node:crypto"
import { readFileSync } from "node:fs"
import * as Path from "node:path"
import * as Tcp from "../../src/Tcp.js"
import * as Udp from "../../src/Udp.js"
import { cli, cliPath, echoListener, requireBuiltCli } from "../utils/cli.js"
import { checkNoSocketLeaks } from "../utils/handles.js"
import { live } from "../utils/live.js"
import { repositoryRoot } from "../utils/process.js"
import { readAllText } from "../utils/tcp.js"

checkNoSocketLeaks()
beforeAll(requireBuiltCli)

/** A stack trace line, which no user-facing error may print. */
const stackLine = /^\s+at /m
const version = (JSON.parse(readFileSync(`${repositoryRoot}package.json`, "utf8")) as { version: string }).version
// The CLI starts in a second or two on a quiet machine; a shared one is slower.
const timeout = 60_000

/** Every package the built module at `entry` loads, following its relative imports through dist/. */
const packagesLoadedBy = (entry: string): Set<string> => {
  const packages = new Set<string>()
  const seen = new Set<string>()
  const visit = (file: string) => {
    if (seen.has(file)) return
    seen.add(file)
    // Code lines only: the JSDoc examples kept in dist/ import "effect-net" too.
    const code = readFileSync(file, "utf8").split("\n").filter((line) => !/^\s*(\*|\/\/|\/\*)/.test(line)).join("\n")
    const statements = /^\s*(?:import|export)\b[^";]*?\bfrom\s*"([^"]+)"|^\s*import\s*"([^"]+)"|\bimport\(\s*"([^"]+)"\s*\)/gm
    for (const match of code.matchAll(statements)) {
      const specifier = match[1] ?? match[2] ?? match[3]
      if (specifier.startsWith(".")) visit(Path.resolve(Path.dirname(file), specifier))
      else packages.add(specifier.split("/").slice(0, specifier.startsWith("@") ? 2 : 1).join("/"))
    }
  }
  visit(entry)
  return packages
}

describe("effect-net CLI: arguments and exit codes", () => {
  it("the bin loads only dependencies and peers: never @effect/platform-node, a dev dependency", () => {
    const manifest = JSON.parse(readFileSync(`${repositoryRoot}package.json`, "utf8")) as {
      dependencies: Record<string, string>
      peerDependencies: Record<string, string>
      peerDependenciesMeta: Record<string, { optional?: boolean }>
    }
    const required = [
      ...Object.keys(manifest.dependencies),
      ...Object.keys(manifest.peerDependencies).filter((name) => manifest.peerDependenciesMeta[name]?.optional !== true)
    ]
    const loaded = [...packagesLoadedBy(cliPath)].filter((name) => !name.startsWith("node:"))
    expect(loaded).toContain("@effect/cli")
    expect(loaded.filter((name) => !required.includes(name))).toEqual([])
  })

  it.live("--version prints the package's version; --help lists the commands", () =>
    live(Effect.gen(function*() {
      const versionRun = yield* cli(["--version"])
      expect(yield* versionRun.exited).toEqual({ code: 0, signal: null })
      expect(versionRun.stdout().toString().trim()).toBe(version)
      const help = yield* cli(["tcp", "--help"])
      expect((yield* help.exited).code).toBe(0)
      expect(help.stdout().toString()).toContain("listen")
      // Not a terminal: no colour codes.
      expect(help.stdout().toString()).not.toMatch(/\u001b\[/)
      expect(help.stdout().toString()).toContain("connect")
    })), timeout)

  it.live("an unknown flag or a port of 70000 exits 2 with the usage", () =>
    live(Effect.gen(function*() {
      for (const args of [["tcp", "listen", "--bogus"], ["tcp", "listen", "--port", "70000"], ["proxy", "tcp", "--upstream", "nonsense"]]) {
        const run = yield* cli(args)
        expect((yield* run.exited).code).toBe(2)
        expect(run.stderr()).toContain(`usage:\n  effect-net ${args[0]} ${args[1]} `)
        expect(run.stderr()).not.toMatch(stackLine)
      }
    })), timeout)

  it.live("a refused connect, a busy port and a name that does not resolve exit 1 with the message and no stack", () =>
    live(Effect.gen(function*() {
      const closed = yield* Effect.scoped(Effect.map(Tcp.listen(), (listener) => listener.address.port))
      const busy = yield* Tcp.listen()
      const cases = [
        [["tcp", "connect", "127.0.0.1", String(closed)], /refused/],
        [["tcp", "listen", "--port", String(busy.address.port)], /in use/],
        [["tcp", "connect", "no-such-host.invalid", "80"], /not found/]
      ] as const
      for (const [args, message] of cases) {
        const run = yield* cli(args)
        expect((yield* run.exited).code).toBe(1)
        expect(run.stderr()).toMatch(message)
        expect(run.stderr()).not.toMatch(stackLine)
      }
    })), timeout)

  it.live("SIGINT and SIGTERM close the sockets and exit 130 and 143", () =>
    live(Effect.gen(function*() {
      for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
        const run = yield* cli(["tcp", "listen"])
        const port = yield* run.listeningPort
        const probe = yield* Effect.scoped(Effect.either(Tcp.connect({ host: "127.0.0.1", port })))
        expect(probe._tag).toBe("Right")
        yield* run.kill(signal)
        expect(yield* run.exited).toEqual({ code, signal: null })
        const after = yield* Effect.scoped(Effect.flip(Tcp.connect({ host: "127.0.0.1", port })))
        expect(after.reason).toBe("ConnectionRefused")
      }
    })), timeout)
})

describe("effect-net CLI: netcat", () => {
  it.live("a 10 MiB random file round-trips through tcp listen --echo byte for byte", () =>
    live(Effect.gen(function*() {
      const data = randomBytes(10 * 1024 * 1024)
      const { listener, port } = yield* echoListener("tcp")
      const client = yield* cli(["tcp", "connect", "127.0.0.1", String(port)], { input: data })
      expect(yield* client.exited).toEqual({ code: 0, signal: null })
      expect(client.stdout().equals(data)).toBe(true)
      expect(yield* listener.exited).toEqual({ code: 0, signal: null })
    })), timeout)

  it.live("tcp connect half-closes on stdin's EOF and exits 0 once the peer has closed", () =>
    live(Effect.gen(function*() {
      const listener = yield* Tcp.listen()
      const served = yield* Effect.fork(Effect.scoped(Effect.gen(function*() {
        const conn = yield* listener.accept
        const received = yield* readAllText(conn) // ends only with the CLI's FIN
        yield* conn.send(`got ${received.length} bytes`)
      })))
      const client = yield* cli(["tcp", "connect", "127.0.0.1", String(listener.address.port)], { input: "twelve bytes" })
      expect(yield* client.exited).toEqual({ code: 0, signal: null })
      yield* Fiber.join(served)
      expect(client.stdout().toString()).toBe("got 12 bytes")
    })), timeout)

  it.live("tcp listen prints what a client sends", () =>
    live(Effect.gen(function*() {
      const listener = yield* cli(["tcp", "listen", "--once"])
      const port = yield* listener.listeningPort
      yield* Effect.scoped(Effect.gen(function*() {
        const conn = yield* Tcp.connect({ host: "127.0.0.1", port })
        yield* conn.send("printed\n")
        yield* conn.endWrite
        yield* Stream.runDrain(conn.stream)
      }))
      expect((yield* listener.exited).code).toBe(0)
      expect(listener.stdout().toString()).toBe("printed\n")
    })), timeout)

  it.live("udp send --wait prints the reply of udp listen --echo", () =>
    live(Effect.gen(function*() {
      const { listener, port } = yield* echoListener("udp")
      const sender = yield* cli(["udp", "send", "127.0.0.1", String(port), "marco", "--wait", "10s"])
      expect(yield* sender.exited).toEqual({ code: 0, signal: null })
      expect(sender.stdout().toString()).toBe("marco")
      expect((yield* listener.exited).code).toBe(0)
    })), timeout)

  it.live("udp send takes stdin when MESSAGE is left out; with no reply in time it exits 1", () =>
    live(Effect.gen(function*() {
      const silent = yield* Udp.bind()
      const sender = yield* cli(["udp", "send", "127.0.0.1", String(silent.address.port), "--wait", "300ms"], {
        input: "from stdin"
      })
      const datagram = yield* Effect.timeout(silent.recv, "30 seconds")
      expect(new TextDecoder().decode(datagram.payload)).toBe("from stdin")
      expect((yield* sender.exited).code).toBe(1)
      expect(sender.stderr()).toMatch(/no reply from 127\.0\.0\.1:\d+ within 300ms/)
    })), timeout)
})

describe("effect-net CLI: proxy", () => {
  it.live("proxy tcp --latency 100ms: a round trip through it takes at least 200 ms", () =>
    live(Effect.gen(function*() {
      const server = yield* Tcp.listen()
      yield* Effect.forkScoped(Tcp.serve(server, (conn) => Stream.run(conn.stream, conn.sink), { shutdownTimeout: 0 }))
      const proxy = yield* cli(["proxy", "tcp", "--upstream", `127.0.0.1:${server.address.port}`, "--latency", "100ms"])
      const port = yield* proxy.listeningPort
      const conn = yield* Tcp.connect({ host: "127.0.0.1", port })
      const started = performance.now()
      yield* conn.send("ping")
      const reply = yield* conn.recv
      expect(Option.map(reply, (bytes) => new TextDecoder().decode(bytes))).toEqual(Option.some("ping"))
      expect(performance.now() - started).toBeGreaterThanOrEqual(200)
      yield* conn.close
      yield* proxy.kill("SIGTERM")
      expect((yield* proxy.exited).code).toBe(143)
    })), timeout)

  it.live("proxy udp --drop 1 loses every datagram; --duplicate 1 doubles each", () =>
    live(Effect.gen(function*() {
      const server = yield* Udp.bind()
      const dropping = yield* cli(["proxy", "udp", "--upstream", `127.0.0.1:${server.address.port}`, "--drop", "1"])
      const dropPort = yield* dropping.listeningPort
      const client = yield* Udp.bind()
      for (let i = 0; i < 5; i++) yield* client.send(`lost ${i}`, { host: "127.0.0.1", port: dropPort })
      expect(Option.isNone(yield* Effect.option(Effect.timeout(server.recv, "500 millis")))).toBe(true)

      const doubling = yield* cli(["proxy", "udp", "--upstream", `127.0.0.1:${server.address.port}`, "--duplicate", "1"])
      const doublePort = yield* doubling.listeningPort
      yield* client.send("twice", { host: "127.0.0.1", port: doublePort })
      const first = yield* Effect.timeout(server.recv, "30 seconds")
      const second = yield* Effect.timeout(server.recv, "30 seconds")
      expect([first, second].map((d) => new TextDecoder().decode(d.payload))).toEqual(["twice", "twice"])
    })), timeout)

  it.live("bad fault values are usage errors", () =>
    live(Effect.gen(function*() {
      const run = yield* cli(["proxy", "udp", "--upstream", "127.0.0.1:9", "--drop", "2"])
      expect((yield* run.exited).code).toBe(2)
      expect(run.stderr()).toContain("usage:\n  effect-net proxy udp")
    })), timeout)
})
