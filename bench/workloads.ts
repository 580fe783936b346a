/**
 * The workloads: what each measures, with which implementations, at which
 * size in each mode. Every one is bounded by a count and by a deadline.
 */
import type { Figures, Operations } from "./workers/protocol.js"

export type Mode = "full" | "quick" | "smoke"

export type Implementation = "raw" | "raw+effect" | "effect-net" | "effect-net+telemetry" | "platform-node"

export const implementationTitles: Record<Implementation, string> = {
  "raw": "raw node:net / node:dgram",
  "raw+effect": "raw, effect loaded",
  "effect-net": "effect-net",
  "effect-net+telemetry": "effect-net with `Telemetry.layer` on both ends (spans and metrics on)",
  "platform-node": "@effect/platform-node"
}

/** Implementations measured only with their own client: telemetry's cost is a headline comparison. */
export const headlineOnly: ReadonlyArray<Implementation> = ["effect-net+telemetry"]

/** One column of a workload's runs: the implementation measured (the server side) and its client side's. */
export interface Contender {
  readonly impl: Implementation
  readonly client: Implementation
}

export interface Metric {
  readonly key: string
  readonly unit: string
  /** The metric the target and the ratio are about: higher is better unless `lowerIsBetter`. */
  readonly lowerIsBetter?: boolean
  /** A percentage, compared by difference in points rather than by ratio. */
  readonly points?: boolean
}

/** Runs one operation in a child process, returning its result. */
export type Call = <K extends keyof Operations>(
  op: K,
  args: Parameters<NonNullable<Operations[K]>>[0]
) => Promise<Awaited<ReturnType<NonNullable<Operations[K]>>>>

export interface Workload {
  readonly key: string
  readonly title: string
  /** Where client and server run, for the report. */
  readonly setup: string
  readonly implementations: ReadonlyArray<Implementation>
  /** Environment of both child processes. */
  readonly env?: Record<string, string>
  readonly metrics: ReadonlyArray<Metric>
  /**
   * Needs a second process (the client), which runs the implementation
   * measured unless the run says otherwise (a raw client: the server alone);
   * without one the server process does all.
   */
  readonly twoProcesses: boolean
  /** Every run in new processes (memory is measured), rather than all runs in one warmed-up pair. */
  readonly freshProcesses?: boolean
  /** Once per pair of processes: starts the server and warms both up; returns the port. */
  readonly prepare: (server: Call, client: Call) => Promise<number>
  /** One timed run. */
  readonly measure: (server: Call, client: Call, port: number) => Promise<Record<string, number>>
}

const tcp: ReadonlyArray<Implementation> = ["raw", "effect-net", "platform-node"]
const udp: ReadonlyArray<Implementation> = ["raw", "effect-net"]

const mib = 1024 * 1024

/** Tuned glibc malloc: keep freed memory instead of trimming, no dynamic mmap threshold. */
export const tunedMalloc = { MALLOC_TRIM_THRESHOLD_: String(64 * mib), MALLOC_MMAP_THRESHOLD_: String(4 * mib) }

const scale = (mode: Mode, full: number, quick: number, smoke: number) =>
  mode === "full" ? full : mode === "quick" ? quick : smoke

const rate = (figures: Figures, count: string) => figures[count] / figures.seconds

export const workloads = (mode: Mode): ReadonlyArray<Workload> => {
  const deadlineMs = scale(mode, 60_000, 20_000, 10_000)
  const warm = (n: number) => Math.max(1, Math.floor(n / 8))

  // A GiB in full runs: a transfer of a quarter of that lasted a quarter of a
  // second, within reach of any hiccup of this shared machine.
  const bulkTotal = scale(mode, 1024 * mib, 32 * mib, mib / 2)
  const churn = scale(mode, 5000, 1000, 200)
  const flood = scale(mode, 200_000, 20_000, 500)
  const floodBatch = 32
  const idle = scale(mode, 2000, 500, 100)
  const framingMiB = scale(mode, 32, 8, 0.25)

  const bulk = (key: string, title: string, connections: number, env?: Record<string, string>): Workload => {
    const chunkSize = mode === "smoke" ? 4096 : 64 * 1024
    // A multiple of 8 chunks per connection, so the warm-up (an eighth) is acknowledged exactly.
    const chunks = Math.max(8, Math.floor(bulkTotal / connections / chunkSize / 8) * 8)
    const bytesPerConnection = chunks * chunkSize
    const ackEvery = bytesPerConnection / 8
    return {
      key,
      title,
      setup: `client and server in separate processes; ${
        Math.round(connections * bytesPerConnection / mib)
      } MiB in ${chunkSize / 1024} KiB writes, the client awaiting each write in a \`for\` loop (\`yield* conn.send(chunk)\`), the server reading with \`Stream.runForEachChunk(conn.stream, …)\` and acknowledging every eighth`,
      implementations: [...tcp, "raw+effect"],
      ...(env === undefined ? {} : { env }),
      metrics: [{ key: "MiB/s", unit: "MiB/s" }],
      twoProcesses: true,
      prepare: async (server, client) => {
        const { port } = await server("tcpBulkServer", { ackEvery })
        await client("tcpBulkClient", { port, connections, bytesPerConnection: ackEvery, chunkSize, ackEvery, deadlineMs })
        return port
      },
      measure: async (_, client, port) => {
        const figures = await client("tcpBulkClient", { port, connections, bytesPerConnection, chunkSize, ackEvery, deadlineMs })
        return { "MiB/s": figures.bytes / mib / figures.seconds }
      }
    }
  }

  /** How long a UDP ping-pong request waits for its reply before it is sent again. */
  const udpReplyTimeoutMs = 200

  const ping = (
    key: string,
    title: string,
    connections: number,
    roundTrips: number,
    transport: "tcp" | "udp",
    withTelemetry = false
  ): Workload => {
    const op = transport === "tcp" ? "tcpPingClient" as const : "udpPingClient" as const
    const args = (port: number, roundTrips: number) => ({
      port,
      connections,
      roundTrips,
      size: 64,
      timeoutMs: udpReplyTimeoutMs,
      deadlineMs
    })
    return {
      key,
      title,
      setup: `client and server in separate processes; ${roundTrips} round trips of 64 bytes, one in flight per ${
        transport === "tcp"
          ? "connection: the client sends, then `recv`s until 64 bytes are back; the server echoes with `Stream.run(conn.stream, conn.sink)`"
          : `socket: the client (\`Udp.bind\`) sends to \`{ host, port }\` and waits with \`socket.recvWithin("${udpReplyTimeoutMs} millis")\` (which replaces \`recv.pipe(Effect.timeoutOption(…))\`), sending again on a timeout; the server echoes each of \`socket.datagrams\` to its sender`
      }`,
      implementations: [...(transport === "tcp" ? tcp : udp), ...(withTelemetry ? ["effect-net+telemetry" as const] : [])],
      metrics: [
        { key: "round trips/s", unit: "round trips/s" },
        // Each resend has waited a whole timeout: a run with any is slower for that, not for its code.
        ...(transport === "udp" ? [{ key: "resent", unit: "%", lowerIsBetter: true, points: true }] : [])
      ],
      twoProcesses: true,
      prepare: async (server, client) => {
        const { port } = await server(transport === "tcp" ? "tcpEchoServer" : "udpEchoServer", undefined)
        await client(op, args(port, warm(roundTrips)))
        return port
      },
      measure: async (_, client, port) => {
        const figures = await client(op, args(port, roundTrips))
        const resent = figures.timeouts ?? 0
        return {
          "round trips/s": rate(figures, "roundTrips"),
          ...(transport === "udp" ? { resent: 100 * resent / (figures.roundTrips + resent) } : {})
        }
      }
    }
  }

  const framing = (kind: "lines" | "lengthPrefixed"): Workload => {
    const op = kind === "lines" ? "framingLines" as const : "framingLengthPrefixed" as const
    return {
      key: `framing-${kind === "lines" ? "lines" : "length-prefixed"}`,
      title: `Framing decode, ${kind === "lines" ? "lines (75-byte lines)" : "length-prefixed (4-byte length, 74-byte frames)"}`,
      setup: `one process, ${framingMiB} MiB in 64 KiB reads (a stream chunk each, as \`conn.stream\` gives them), decoded with \`framing.decode\` and consumed with \`Stream.runForEach\`, an Effect per frame as a handler is written; raw is a hand-written Buffer decoder (bench/framing.ts measures the decoder alone)`,
      implementations: ["raw", "effect-net"],
      metrics: [{ key: "MiB/s", unit: "MiB/s" }],
      twoProcesses: false,
      prepare: async (server) => {
        await server(op, { megabytes: framingMiB / 8, chunkSize: 64 * 1024, deadlineMs })
        return 0
      },
      measure: async (server) => {
        const figures = await server(op, { megabytes: framingMiB, chunkSize: 64 * 1024, deadlineMs })
        return { "MiB/s": figures.bytes / mib / figures.seconds }
      }
    }
  }

  const idleMemory = (reader: "stream" | "recv", implementations: ReadonlyArray<Implementation>): Workload => ({
    key: reader === "stream" ? "tcp-idle-memory" : "tcp-idle-memory-recv",
    title: `Memory per idle TCP connection (${idle} connections, server side${reader === "stream" ? "" : ", handler in recv"})`,
    setup: `server in its own process, each connection in a handler ${
      reader === "stream" ? "reading `conn.stream` (`Stream.runDrain`)" : "waiting in `recv` (raw: a 'data' listener, as above)"
    }; a client process holds the connections, opened 100 at a time. Memory is measured after a warm-up of ${
      warm(idle)
    } connections opened and closed`,
    implementations,
    metrics: [
      { key: "RSS/conn", unit: "KB", lowerIsBetter: true },
      { key: "heap/conn", unit: "KB", lowerIsBetter: true }
    ],
    twoProcesses: true,
    freshProcesses: true,
    // The baseline is taken after a warm-up round of connections, opened and
    // closed again, so that what is measured is the cost of one more
    // connection, not the one-off cost of compiling and sizing the heap for
    // the first.
    prepare: async (server, client) => {
      const { port } = await server("tcpIdleServer", { reader })
      await client("tcpIdleClient", { port, connections: warm(idle), hold: false, deadlineMs })
      await server("tcpIdleBaseline", undefined)
      return port
    },
    measure: async (server, client, port) => {
      await client("tcpIdleClient", { port, connections: idle, hold: true, deadlineMs })
      const figures = await server("tcpIdleReport", { connections: idle, deadlineMs })
      return { "RSS/conn": figures.rssPerConnection / 1000, "heap/conn": figures.heapPerConnection / 1000 }
    }
  })

  const rpcCalls = scale(mode, 100_000, 16_000, 320)
  const rpcPingPong: Workload = {
    key: "rpc-ping-pong-32",
    title: "@effect/rpc unary ping-pong, 32 concurrent callers",
    setup:
      `client and server in separate processes; @effect/rpc (msgpack) over effect-net's PlatformSocket vs @effect/platform-node's NodeSocket / NodeSocketServer; ${rpcCalls} calls from 32 fibers over one client connection, each waiting for its reply`,
    implementations: ["effect-net", "platform-node"],
    metrics: [{ key: "calls/s", unit: "calls/s" }],
    twoProcesses: true,
    prepare: async (server, client) => {
      const { port } = await server("rpcServer", undefined)
      await client("rpcPingClient", { port, callers: 32, calls: warm(rpcCalls), deadlineMs })
      return port
    },
    measure: async (_, client, port) => ({
      "calls/s": rate(await client("rpcPingClient", { port, callers: 32, calls: rpcCalls, deadlineMs }), "calls")
    })
  }

  return [
    bulk("tcp-bulk-1", "TCP bulk, 1 connection", 1),
    bulk("tcp-bulk-1-tuned-malloc", "TCP bulk, 1 connection, tuned malloc", 1, tunedMalloc),
    bulk("tcp-bulk-16", "TCP bulk, 16 connections", 16),
    ping("tcp-ping-pong-1", "TCP ping-pong, 1 connection", 1, scale(mode, 20_000, 4_000, 200), "tcp"),
    ping("tcp-ping-pong-32", "TCP ping-pong, 32 connections", 32, scale(mode, 100_000, 16_000, 320), "tcp", true),
    {
      key: "tcp-accept-churn",
      title: "TCP accept churn",
      setup:
        `client and server in separate processes; ${churn} connections, 50 at a time (\`Effect.forEach(…, { concurrency: 50 })\`), each \`Tcp.connect\`, send 64 bytes, \`endWrite\`, read the reply to its end with \`Tcp.readToEnd(conn)\`; the server reads 64 bytes, replies 64 and closes`,
      implementations: tcp,
      metrics: [{ key: "connections/s", unit: "connections/s" }],
      twoProcesses: true,
      prepare: async (server, client) => {
        const { port } = await server("tcpChurnServer", { size: 64 })
        await client("tcpChurnClient", { port, connections: warm(churn), concurrency: 50, size: 64, deadlineMs })
        return port
      },
      measure: async (_, client, port) => {
        const figures = await client("tcpChurnClient", { port, connections: churn, concurrency: 50, size: 64, deadlineMs })
        if (figures.errors > 0) throw new Error(`${figures.errors} connections without a full reply`)
        return { "connections/s": rate(figures, "connections") }
      }
    },
    ping("udp-ping-pong", "UDP ping-pong", 1, scale(mode, 20_000, 4_000, 200), "udp", true),
    {
      key: "udp-flood",
      title: "UDP flood",
      setup:
        `receiver and sender in separate processes; ${flood} datagrams of 512 bytes from a connected socket in batches of ${floodBatch}, each batch sent with \`socket.sendAll(batch)\` (which replaces \`Effect.forEach(batch, send, { concurrency: "unbounded" })\`; raw: ${floodBatch} \`send\`s, then the next batch once every callback came); the receiver reads \`socket.datagrams\``,
      implementations: udp,
      metrics: [{ key: "received/s", unit: "datagrams/s" }, { key: "loss", unit: "%", lowerIsBetter: true, points: true }],
      twoProcesses: true,
      prepare: async (server, client) => {
        const { port } = await server("udpFloodReceiver", undefined)
        const warmup = await client("udpFloodSender", { port, datagrams: warm(flood), size: 512, batch: floodBatch, deadlineMs })
        await server("udpFloodReport", { sent: warmup.sent, deadlineMs })
        return port
      },
      measure: async (server, client, port) => {
        await server("udpFloodReset", undefined)
        const sent = await client("udpFloodSender", { port, datagrams: flood, size: 512, batch: floodBatch, deadlineMs })
        const received = await server("udpFloodReport", { sent: sent.sent, deadlineMs })
        return { "received/s": received.received / received.seconds, loss: 100 * (1 - received.received / sent.sent) }
      }
    },
    idleMemory("stream", tcp),
    idleMemory("recv", ["raw", "effect-net"]),
    framing("lines"),
    framing("lengthPrefixed"),
    rpcPingPong
  ]
}
