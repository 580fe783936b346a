import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type * as Usage from "@effect/cli/Usage"
import type { SocketAddress } from "../../Address.js"
import { format } from "../../Address.js"
import type { ReadError, WriteError } from "../../NetError.js"
import * as Proxy from "../../Proxy.js"
import * as Tcp from "../../Tcp.js"
import type { Faults } from "../../TestNetwork.js"
import * as Udp from "../../Udp.js"
import { timeoutFailReal } from "../shared/time.js"
import {
  countOption,
  durationOption,
  hostArg,
  hostOption,
  hostPortOption,
  portArg,
  portOption,
  probabilityOption
} from "./arguments.js"
import * as Stdio from "./stdio.js"

/**
 * `udp send --wait`: no reply came in time.
 *
 * @internal
 */
export class NoReplyError extends Schema.TaggedError<NoReplyError>("effect-net/NoReplyError")("NoReplyError", {
  message: Schema.String
}) {}

/** The one line a listening command starts with, once it is ready; scripts wait for it. */
const announce = (address: SocketAddress) =>
  Effect.sync(() => {
    process.stderr.write(`listening on ${format(address)}\n`)
  })

/** A failure that ends one connection (not the server) is reported and the server goes on. */
const reportAndContinue = <A, E extends { readonly message: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.catchAll(effect, (error) => Effect.sync(() => void process.stderr.write(`${error.message}\n`)))

/** `tcp listen` and `udp listen` take the same flags. */
const listenOptions = {
  host: hostOption,
  port: portOption,
  echo: Options.boolean("echo").pipe(Options.withDescription("send what arrives back instead of printing it")),
  once: Options.boolean("once").pipe(Options.withDescription("exit after the first connection (TCP) or datagram (UDP)"))
}

const tcpListen = Command.make("listen", listenOptions, ({ echo, host, once, port }) =>
  Effect.gen(function*() {
    const listener = yield* Tcp.listen({ host, port })
    yield* announce(listener.address)
    const print = Stdio.stdout()
    const handle = (conn: Tcp.TcpConnection): Effect.Effect<void, ReadError | WriteError | Stdio.StdioError> =>
      echo
        ? Effect.zipRight(Stream.run(conn.stream, conn.sink), conn.endWrite)
        : Stream.run(conn.stream, print)
    if (once) return yield* Effect.scoped(Effect.flatMap(listener.accept, handle))
    // Printing, one connection at a time, so that outputs do not interleave.
    return yield* Tcp.serve(listener, (conn) => reportAndContinue(handle(conn)), {
      concurrency: echo ? undefined : 1
    })
  })).pipe(Command.withDescription("accept TCP connections and print what they send (or echo it)"))

const tcpConnect = Command.make("connect", {
  host: hostArg,
  port: portArg,
  timeout: durationOption("timeout", "give up connecting after this long (500ms, 2s, ...)")
}, ({ host, port, timeout }) =>
  Effect.gen(function*() {
    const conn = yield* Tcp.connect({ host, port, timeout: Option.getOrUndefined(timeout) })
    const upload = yield* Effect.fork(Effect.zipRight(Stream.run(Stdio.stdin(), conn.sink), conn.endWrite))
    yield* Stream.run(conn.stream, Stdio.stdout())
    // The peer has closed. A failed upload is still an error; one still
    // running (a terminal that never ends) is cut short, as netcat does.
    const uploaded = yield* Fiber.poll(upload)
    if (Option.isSome(uploaded)) return yield* uploaded.value
    yield* Fiber.interrupt(upload)
  })).pipe(Command.withDescription("connect, copy stdin to the socket and the socket to stdout"))

const udpListen = Command.make("listen", listenOptions, ({ echo, host, once, port }) =>
  Effect.gen(function*() {
    const socket = yield* Udp.bind({ host, port })
    yield* announce(socket.address)
    const print = Stdio.stdout()
    const handle = (datagram: Udp.Datagram) =>
      echo
        ? reportAndContinue(socket.send(datagram.payload, datagram.from))
        : Stream.run(Stream.make(datagram.payload), print)
    yield* Stream.runForEach(once ? Stream.take(socket.datagrams, 1) : socket.datagrams, handle)
  })).pipe(Command.withDescription("receive UDP datagrams and print them (or echo them)"))

/**
 * All of stdin, for a datagram. Reading stops once it is more than the
 * largest datagram (the send then fails with `MessageTooLarge`), so a huge
 * stdin is not held in memory.
 */
const stdinPayload = () =>
  Stdio.stdin().pipe(
    Stream.runFoldWhile(new Uint8Array(0), (all) => all.length <= Udp.maxPayload.IPv6, (all, chunk) => {
      const joined = new Uint8Array(all.length + chunk.length)
      joined.set(all)
      joined.set(chunk, all.length)
      return joined
    })
  )

const udpSend = Command.make("send", {
  host: hostArg,
  port: portArg,
  message: Args.text({ name: "MESSAGE" }).pipe(
    Args.withDescription("the datagram; stdin when left out"),
    Args.optional
  ),
  wait: durationOption("wait", "print the first reply, failing if none comes within this long")
}, ({ host, message, port, wait }) =>
  Effect.gen(function*() {
    const payload = Option.isSome(message) ? new TextEncoder().encode(message.value) : yield* stdinPayload()
    const socket = yield* Udp.connect({ host, port })
    yield* socket.send(payload)
    if (Option.isNone(wait)) return
    const reply = yield* timeoutFailReal(socket.recv, wait.value, () =>
      new NoReplyError({ message: `no reply from ${format({ host, port })} within ${Duration.format(wait.value)}` }))
    yield* Stream.run(Stream.make(reply.payload), Stdio.stdout())
  })).pipe(Command.withDescription("send one datagram (MESSAGE or stdin), optionally wait for the reply"))

const faultOptions = {
  latency: durationOption("latency", "delay each way by this much"),
  jitter: durationOption("jitter", "plus a random delay up to this much"),
  bandwidth: countOption("bandwidth", "bytes per second each way", 1),
  slice: countOption("slice", "TCP: deliver in chunks of at most this many bytes", 1),
  resetAfter: countOption("reset-after", "TCP: reset a connection after this many bytes one way", 0),
  slowClose: durationOption("slow-close", "TCP: deliver the FIN this much later than the data"),
  stall: Options.boolean("stall").pipe(Options.withDescription("TCP: hold connections and data")),
  refuse: Options.boolean("refuse").pipe(Options.withDescription("TCP: refuse new connections")),
  drop: probabilityOption("drop", "UDP: lose a datagram with this probability"),
  duplicate: probabilityOption("duplicate", "UDP: deliver a datagram twice with this probability"),
  reorder: probabilityOption("reorder", "UDP: let the next datagram overtake with this probability"),
  seed: Options.integer("seed").pipe(Options.withDescription("seeds the random choices"), Options.optional)
}

interface FaultFlags {
  readonly latency: Option.Option<Duration.Duration>
  readonly jitter: Option.Option<Duration.Duration>
  readonly bandwidth: Option.Option<number>
  readonly slice: Option.Option<number>
  readonly resetAfter: Option.Option<number>
  readonly slowClose: Option.Option<Duration.Duration>
  readonly stall: boolean
  readonly refuse: boolean
  readonly drop: Option.Option<number>
  readonly duplicate: Option.Option<number>
  readonly reorder: Option.Option<number>
}

/** The flags given, as `Faults`; a flag left out is a fault left out. */
const faultsOf = (flags: FaultFlags): Faults => {
  const faults: { -readonly [K in keyof Faults]: Faults[K] } = {}
  if (Option.isSome(flags.latency)) faults.latency = flags.latency.value
  if (Option.isSome(flags.jitter)) faults.jitter = flags.jitter.value
  if (Option.isSome(flags.bandwidth)) faults.bandwidth = flags.bandwidth.value
  if (Option.isSome(flags.slice)) faults.sliceBytes = flags.slice.value
  if (Option.isSome(flags.resetAfter)) faults.resetAfterBytes = flags.resetAfter.value
  if (Option.isSome(flags.slowClose)) faults.slowClose = flags.slowClose.value
  if (flags.stall) faults.stall = true
  if (flags.refuse) faults.refuse = true
  if (Option.isSome(flags.drop)) faults.drop = flags.drop.value
  if (Option.isSome(flags.duplicate)) faults.duplicate = flags.duplicate.value
  if (Option.isSome(flags.reorder)) faults.reorder = flags.reorder.value
  return faults
}

const proxyOptions = {
  listen: hostPortOption("listen", "where clients connect, HOST:PORT").pipe(
    Options.withDefault({ host: "127.0.0.1", port: 0 })
  ),
  upstream: hostPortOption("upstream", "the server to relay to, HOST:PORT"),
  ...faultOptions
}

/** A `proxy` subcommand: starts the proxy from the flags, announces it, and runs until interrupted. */
const proxyCommand = <E, R>(
  name: "tcp" | "udp",
  start: (options: Proxy.TcpProxyOptions & Proxy.UdpProxyOptions) => Effect.Effect<Proxy.Proxy, E, R>,
  description: string
) =>
  Command.make(name, proxyOptions, ({ listen, upstream, ...flags }) =>
    Effect.gen(function*() {
      const proxy = yield* start({
        listen: { host: listen.host, port: listen.port },
        upstream,
        faults: faultsOf(flags),
        seed: Option.getOrUndefined(flags.seed)
      })
      yield* announce(proxy.address)
      return yield* Effect.never
    })).pipe(Command.withDescription(description))

const proxyTcp = proxyCommand("tcp", Proxy.tcp, "relay TCP connections to --upstream, with faults")
const proxyUdp = proxyCommand("udp", Proxy.udp, "relay UDP datagrams to --upstream, with faults")

const tcp = Command.make("tcp").pipe(
  Command.withDescription("TCP, netcat-style"),
  Command.withSubcommands([tcpListen, tcpConnect])
)
const udp = Command.make("udp").pipe(
  Command.withDescription("UDP, netcat-style"),
  Command.withSubcommands([udpListen, udpSend])
)
const proxy = Command.make("proxy").pipe(
  Command.withDescription("a fault-injecting proxy in front of any server"),
  Command.withSubcommands([proxyTcp, proxyUdp])
)

/**
 * The `effect-net` command.
 *
 * @internal
 */
export const root = Command.make("effect-net").pipe(
  Command.withDescription("TCP and UDP from the command line, and a fault-injecting proxy, on effect-net"),
  Command.withSubcommands([tcp, udp, proxy])
)

/**
 * The usage of each command by the words that name it, most specific
 * first, for printing the usage of the one a usage error is about.
 *
 * @internal
 */
export const usages: ReadonlyArray<readonly [ReadonlyArray<string>, Usage.Usage]> = [
  [["tcp", "listen"], Command.getUsage(tcpListen)],
  [["tcp", "connect"], Command.getUsage(tcpConnect)],
  [["udp", "listen"], Command.getUsage(udpListen)],
  [["udp", "send"], Command.getUsage(udpSend)],
  [["proxy", "tcp"], Command.getUsage(proxyTcp)],
  [["proxy", "udp"], Command.getUsage(proxyUdp)],
  [["tcp"], Command.getUsage(tcp)],
  [["udp"], Command.getUsage(udp)],
  [["proxy"], Command.getUsage(proxy)],
  [[], Command.getUsage(root)]
]
