/**
 * The bench's child-process side: one implementation per process, driven by
 * the orchestrator (bench/run.ts) over the IPC channel. A request names an
 * operation and its arguments; the reply carries the operation's result.
 * This module never imports effect, so the raw baseline stays effect-free.
 */

/** What every server operation returns: the port it listens on. */
export interface Listening {
  readonly port: number
}

/** Measured figures of one operation, by name. */
export type Figures = Record<string, number>

export interface BulkArgs {
  readonly port: number
  readonly connections: number
  readonly bytesPerConnection: number
  readonly chunkSize: number
  /** The server acknowledges every `ackEvery` bytes; the client is done at the last acknowledgement. */
  readonly ackEvery: number
  readonly deadlineMs: number
}

export interface PingArgs {
  readonly port: number
  readonly connections: number
  /** Round trips in total, shared evenly among the connections. */
  readonly roundTrips: number
  readonly size: number
  readonly deadlineMs: number
}

export interface UdpPingArgs extends PingArgs {
  /** How long each request waits for its reply before it is sent again (a lost datagram). */
  readonly timeoutMs: number
}

export interface FloodArgs {
  readonly port: number
  readonly datagrams: number
  readonly size: number
  /** Datagrams sent at once; the next batch starts when every send of this one completed. */
  readonly batch: number
  readonly deadlineMs: number
}

export interface ChurnArgs {
  readonly port: number
  /** Connections in total, each one connect / send `size` bytes / half-close / read to EOF. */
  readonly connections: number
  /** Connections in progress at once. */
  readonly concurrency: number
  readonly size: number
  readonly deadlineMs: number
}

export interface IdleClientArgs {
  readonly port: number
  readonly connections: number
  /** Hold the connections open; with `false`, close them again (a warm-up). */
  readonly hold: boolean
  readonly deadlineMs: number
}

export interface RpcPingArgs {
  readonly port: number
  /** Fibers calling at once, over the one connection of one @effect/rpc client. */
  readonly callers: number
  /** Calls in total, shared evenly among the callers; each waits for its reply before the next. */
  readonly calls: number
  readonly deadlineMs: number
}

export interface FramingArgs {
  readonly megabytes: number
  readonly chunkSize: number
  readonly deadlineMs: number
}

/** The operations an implementation may offer; the orchestrator calls only those a workload needs. */
export interface Operations {
  /** Server: replies `bulkAck` on each connection every `ackEvery` bytes. */
  readonly tcpBulkServer?: (args: { readonly ackEvery: number }) => Promise<Listening>
  readonly tcpBulkClient?: (args: BulkArgs) => Promise<Figures>
  /** Server: echoes every byte. */
  readonly tcpEchoServer?: () => Promise<Listening>
  readonly tcpPingClient?: (args: PingArgs) => Promise<Figures>
  /** Server: reads `size` bytes, echoes them, closes. */
  readonly tcpChurnServer?: (args: { readonly size: number }) => Promise<Listening>
  readonly tcpChurnClient?: (args: ChurnArgs) => Promise<Figures>
  /**
   * Server: accepts and reads, holding connections open. `reader`: how each
   * handler waits for data, where the implementation has a choice.
   */
  readonly tcpIdleServer?: (args: { readonly reader: "stream" | "recv" }) => Promise<Listening>
  /** Server: measures memory now (after a warm-up) and counts accepted connections from zero. */
  readonly tcpIdleBaseline?: () => Promise<Figures>
  /** Server: waits for `connections` accepted, then reports memory per connection. */
  readonly tcpIdleReport?: (args: { readonly connections: number; readonly deadlineMs: number }) => Promise<Figures>
  /** Client: opens `connections`; holds them open, or with `hold: false` closes them again (a warm-up). */
  readonly tcpIdleClient?: (args: IdleClientArgs) => Promise<Figures>
  readonly udpEchoServer?: () => Promise<Listening>
  /** Client: an unconnected socket sending to the server's host and port, each reply awaited with a timeout. */
  readonly udpPingClient?: (args: UdpPingArgs) => Promise<Figures>
  readonly udpFloodReceiver?: () => Promise<Listening>
  /** Receiver: forget what was counted so far (after a warm-up). */
  readonly udpFloodReset?: () => Promise<Figures>
  /** Receiver: waits until `sent` arrived or the socket stays quiet, then reports. */
  readonly udpFloodReport?: (args: { readonly sent: number; readonly deadlineMs: number }) => Promise<Figures>
  readonly udpFloodSender?: (args: FloodArgs) => Promise<Figures>
  /** Server: @effect/rpc with a unary `Ping` that returns its payload. */
  readonly rpcServer?: () => Promise<Listening>
  readonly rpcPingClient?: (args: RpcPingArgs) => Promise<Figures>
  readonly framingLines?: (args: FramingArgs) => Promise<Figures>
  readonly framingLengthPrefixed?: (args: FramingArgs) => Promise<Figures>
}

export interface Request {
  readonly id: number
  readonly op: keyof Operations
  readonly args: unknown
}

export type Reply =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: string }

/** Serves `operations` to the parent process until it disconnects. */
export const serveOperations = (operations: Operations): void => {
  const send = (reply: Reply) => process.send?.(reply)
  process.on("message", (message: Request) => {
    // Each operation is typed by its own arguments; the parent sends the matching shape.
    const operation = operations[message.op] as ((args: unknown) => Promise<unknown>) | undefined
    if (operation === undefined) {
      send({ id: message.id, ok: false, error: `operation ${message.op} not offered` })
      return
    }
    operation(message.args).then(
      (value) => send({ id: message.id, ok: true, value }),
      (error: unknown) => send({ id: message.id, ok: false, error: error instanceof Error ? error.stack ?? error.message : String(error) })
    )
  })
  process.on("disconnect", () => process.exit(0))
}

/** The bulk server's acknowledgement. */
export const bulkAck = new Uint8Array([97, 99, 107, 10])

/** How many acknowledgements are due when `received` grew from `before`. */
export const acksDue = (before: number, received: number, ackEvery: number): number =>
  Math.floor(received / ackEvery) - Math.floor(before / ackEvery)

export const now = (): number => performance.now()

/** Collects garbage twice (the process runs with --expose-gc) and reads memory. */
export const settledMemory = async (): Promise<{ rss: number; heap: number }> => {
  const gc = (globalThis as { gc?: () => void }).gc
  for (let i = 0; i < 2; i++) {
    gc?.()
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const usage = process.memoryUsage()
  return { rss: usage.rss, heap: usage.heapUsed }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `done` every few milliseconds until it holds or `deadline` (a `now()` time) passes. */
export const until = async (done: () => boolean, deadline: number): Promise<boolean> => {
  while (!done()) {
    if (now() > deadline) return false
    await sleep(5)
  }
  return true
}

/** Input for the framing benchmarks: `megabytes` of frames, cut into `chunkSize` pieces. */
export const framingInput = (
  kind: "lines" | "lengthPrefixed",
  megabytes: number,
  chunkSize: number
): { chunks: Array<Uint8Array>; frames: number; bytes: number } => {
  const total = Math.floor(megabytes * 1024 * 1024)
  const payload = "effect-net framing benchmark line, some ASCII text of a typical log line."
  const frame = kind === "lines"
    ? Buffer.from(payload + "\n", "utf8")
    : Buffer.concat([Buffer.from([0, 0, 0, payload.length]), Buffer.from(payload, "utf8")])
  const frames = Math.max(1, Math.floor(total / frame.length))
  const all = Buffer.alloc(frames * frame.length)
  for (let i = 0; i < frames; i++) frame.copy(all, i * frame.length)
  const chunks: Array<Uint8Array> = []
  for (let offset = 0; offset < all.length; offset += chunkSize) {
    chunks.push(all.subarray(offset, Math.min(all.length, offset + chunkSize)))
  }
  return { chunks, frames, bytes: all.length }
}

/** Memory per connection on a server: a baseline before the first, the growth once `connections` are in. */
export const idleMeter = () => {
  let baseline = { rss: 0, heap: 0 }
  let accepted = 0
  return {
    baseline: async (): Promise<Figures> => {
      baseline = await settledMemory()
      accepted = 0
      return {}
    },
    accepted: (): void => {
      accepted++
    },
    report: async ({ connections, deadlineMs }: { readonly connections: number; readonly deadlineMs: number }) => {
      if (!await until(() => accepted >= connections, now() + deadlineMs)) {
        throw new Error(`only ${accepted} of ${connections} connections accepted`)
      }
      const after = await settledMemory()
      return {
        rssPerConnection: (after.rss - baseline.rss) / connections,
        heapPerConnection: (after.heap - baseline.heap) / connections
      }
    }
  }
}

/** Counts a flood's datagrams as they are received. */
export const floodCounter = () => {
  let count = 0
  let first = 0
  let last = 0
  return {
    received: (): void => {
      last = now()
      if (count++ === 0) first = last
    },
    reset: async (): Promise<Figures> => {
      count = 0
      return {}
    },
    /** Waits until `sent` arrived or nothing arrived for 300 ms (the rest was lost). */
    report: async ({ deadlineMs, sent }: { readonly sent: number; readonly deadlineMs: number }) => {
      await until(() => count >= sent || (count > 0 && now() - last > 300), now() + deadlineMs)
      return { received: count, seconds: (last - first) / 1000, sent }
    }
  }
}
