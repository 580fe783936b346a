/**
 * Raw node:net / node:dgram, written as a careful Node programmer would:
 * backpressure on writes, no per-chunk allocation beyond Node's own, every
 * 'error' handled. The baseline every ratio is taken against.
 */
import * as Dgram from "node:dgram"
import * as Net from "node:net"
import type { BulkArgs, FloodArgs, FramingArgs, Operations, PingArgs, UdpPingArgs } from "./protocol.js"
import { acksDue, bulkAck, floodCounter, framingInput, idleMeter, now } from "./protocol.js"

const host = "127.0.0.1"

const listen = (onConnection: (socket: Net.Socket) => void): Promise<{ port: number }> =>
  new Promise((resolve, reject) => {
    const server = Net.createServer({ noDelay: true }, (socket) => {
      socket.on("error", () => {})
      onConnection(socket)
    })
    server.once("error", reject)
    server.listen({ host, port: 0 }, () => resolve({ port: (server.address() as Net.AddressInfo).port }))
  })

const connect = (port: number): Promise<Net.Socket> =>
  new Promise((resolve, reject) => {
    const socket = Net.connect({ host, port, noDelay: true })
    socket.once("error", reject)
    socket.once("connect", () => {
      socket.off("error", reject)
      socket.on("error", () => {})
      resolve(socket)
    })
  })

const withDeadline = <A>(deadlineMs: number, what: string, run: (finish: (value: A) => void) => void): Promise<A> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: deadline of ${deadlineMs} ms passed`)), deadlineMs)
    run((value) => {
      clearTimeout(timer)
      resolve(value)
    })
  })

const bulkClient = async (args: BulkArgs) => {
  const sockets = await Promise.all(Array.from({ length: args.connections }, () => connect(args.port)))
  const chunk = Buffer.alloc(args.chunkSize, 120)
  const start = now()
  await withDeadline<void>(args.deadlineMs, "bulk", (finish) => {
    let open = sockets.length
    for (const socket of sockets) {
      let sent = 0
      const pump = () => {
        while (sent < args.bytesPerConnection) {
          sent += chunk.length
          if (!socket.write(chunk)) return void socket.once("drain", pump)
        }
      }
      let acknowledged = 0
      const expected = (args.bytesPerConnection / args.ackEvery) * bulkAck.length
      socket.on("data", (data: Buffer) => {
        acknowledged += data.length
        if (acknowledged < expected) return
        socket.destroy()
        if (--open === 0) finish()
      })
      pump()
    }
  })
  const seconds = (now() - start) / 1000
  return { seconds, bytes: args.connections * args.bytesPerConnection }
}

const pingClient = async (args: PingArgs) => {
  const sockets = await Promise.all(Array.from({ length: args.connections }, () => connect(args.port)))
  const payload = Buffer.alloc(args.size, 112)
  const perConnection = Math.max(1, Math.floor(args.roundTrips / args.connections))
  const start = now()
  await withDeadline<void>(args.deadlineMs, "ping-pong", (finish) => {
    let open = sockets.length
    for (const socket of sockets) {
      let received = 0
      let done = 0
      socket.on("data", (data: Buffer) => {
        received += data.length
        while (received >= args.size) {
          received -= args.size
          if (++done === perConnection) {
            socket.destroy()
            if (--open === 0) finish()
            return
          }
          socket.write(payload)
        }
      })
      socket.write(payload)
    }
  })
  const seconds = (now() - start) / 1000
  return { seconds, roundTrips: perConnection * sockets.length }
}

/**
 * Ping-pong over UDP: `connections` unconnected sockets sending to the
 * server's host and port, one datagram in flight on each; a request not
 * answered within `timeoutMs` is sent again, as a client on a lossy network must.
 */
const udpPingClient = async (args: UdpPingArgs) => {
  const payload = Buffer.alloc(args.size, 112)
  const perSocket = Math.max(1, Math.floor(args.roundTrips / args.connections))
  const sockets = await Promise.all(Array.from({ length: args.connections }, () =>
    new Promise<Dgram.Socket>((resolve, reject) => {
      const socket = Dgram.createSocket("udp4")
      socket.once("error", reject)
      socket.bind(0, host, () => {
        socket.off("error", reject)
        socket.on("error", () => {})
        resolve(socket)
      })
    })))
  let timeouts = 0
  const start = now()
  const giveUpAt = start + args.deadlineMs
  await withDeadline<void>(args.deadlineMs, "udp ping-pong", (finish) => {
    let open = sockets.length
    for (const socket of sockets) {
      let done = 0
      let timer: ReturnType<typeof setTimeout> | undefined
      const request = () => {
        if (now() > giveUpAt) return
        socket.send(payload, args.port, host)
        timer = setTimeout(() => {
          timeouts++
          request()
        }, args.timeoutMs)
      }
      socket.on("message", () => {
        clearTimeout(timer)
        if (++done === perSocket) {
          socket.close()
          if (--open === 0) finish()
          return
        }
        request()
      })
      request()
    }
  })
  const seconds = (now() - start) / 1000
  return { seconds, roundTrips: perSocket * sockets.length, timeouts }
}

const idle = idleMeter()
const flood = floodCounter()

/** Splits a byte stream into "\n"-ended UTF-8 lines, carrying the unfinished tail between chunks. */
const decodeLines = (chunks: ReadonlyArray<Uint8Array>, onLine: (line: string) => void) => {
  let tail: Buffer | undefined
  for (const chunk of chunks) {
    let data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    if (tail !== undefined) {
      data = Buffer.concat([tail, data])
      tail = undefined
    }
    let start = 0
    let end: number
    while ((end = data.indexOf(10, start)) !== -1) {
      onLine(data.toString("utf8", start, end > start && data[end - 1] === 13 ? end - 1 : end))
      start = end + 1
    }
    if (start < data.length) tail = data.subarray(start)
  }
}

const decodeLengthPrefixed = (chunks: ReadonlyArray<Uint8Array>, onFrame: (frame: Uint8Array) => void) => {
  let tail: Buffer | undefined
  for (const chunk of chunks) {
    let data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    if (tail !== undefined) {
      data = Buffer.concat([tail, data])
      tail = undefined
    }
    let offset = 0
    while (data.length - offset >= 4) {
      const length = data.readUInt32BE(offset)
      if (data.length - offset - 4 < length) break
      onFrame(data.subarray(offset + 4, offset + 4 + length))
      offset += 4 + length
    }
    if (offset < data.length) tail = data.subarray(offset)
  }
}

const framing = (kind: "lines" | "lengthPrefixed") => async (args: FramingArgs) => {
  const input = framingInput(kind, args.megabytes, args.chunkSize)
  let frames = 0
  const start = now()
  if (kind === "lines") decodeLines(input.chunks, () => frames++)
  else decodeLengthPrefixed(input.chunks, () => frames++)
  const seconds = (now() - start) / 1000
  if (frames !== input.frames) throw new Error(`decoded ${frames} frames, expected ${input.frames}`)
  return { seconds, bytes: input.bytes, frames }
}

export const operations: Operations = {
  tcpBulkServer: ({ ackEvery }) =>
    listen((socket) => {
      let received = 0
      socket.on("data", (data: Buffer) => {
        const before = received
        received += data.length
        for (let i = acksDue(before, received, ackEvery); i > 0; i--) socket.write(bulkAck)
      })
      socket.on("end", () => socket.end())
    }),
  tcpBulkClient: bulkClient,
  tcpEchoServer: () =>
    listen((socket) => {
      socket.on("data", (data: Buffer) => {
        if (!socket.write(data)) {
          socket.pause()
          socket.once("drain", () => socket.resume())
        }
      })
      socket.on("end", () => socket.end())
    }),
  tcpPingClient: pingClient,
  tcpChurnServer: ({ size }) => {
    const reply = Buffer.alloc(size, 99)
    return listen((socket) => {
      let received = 0
      socket.on("data", (data: Buffer) => {
        received += data.length
        if (received >= size && !socket.writableEnded) socket.end(reply)
      })
      socket.on("end", () => socket.end())
    })
  },
  tcpChurnClient: async ({ concurrency, connections, deadlineMs, port, size }) => {
    const payload = Buffer.alloc(size, 99)
    let started = 0
    let finished = 0
    let errors = 0
    const start = now()
    await withDeadline<void>(deadlineMs, "accept churn", (finish) => {
      const next = () => {
        if (started === connections) return
        started++
        let received = 0
        const socket = Net.connect({ host, port, noDelay: true }, () => socket.end(payload))
        const done = () => {
          if (received < size) errors++
          if (++finished === connections) finish()
          else next()
        }
        socket.on("data", (data: Buffer) => {
          received += data.length
        })
        socket.on("error", () => {})
        socket.on("close", done)
      }
      for (let i = 0; i < concurrency; i++) next()
    })
    const seconds = (now() - start) / 1000
    return { seconds, connections, errors }
  },
  tcpIdleServer: () =>
    listen((socket) => {
      idle.accepted()
      socket.on("data", () => {})
      socket.on("end", () => socket.end())
    }),
  tcpIdleBaseline: idle.baseline,
  tcpIdleReport: idle.report,
  tcpIdleClient: async ({ connections, deadlineMs, hold, port }) => {
    const sockets: Array<Net.Socket> = []
    const start = now()
    for (let i = 0; i < connections; i += 100) {
      if (now() - start > deadlineMs) throw new Error("idle connections: deadline passed")
      sockets.push(...await Promise.all(Array.from({ length: Math.min(100, connections - i) }, () => connect(port))))
    }
    if (!hold) {
      await Promise.all(sockets.map((socket) => new Promise((resolve) => socket.once("close", resolve).end())))
    }
    return { connections: sockets.length }
  },
  udpEchoServer: () =>
    new Promise((resolve, reject) => {
      const socket = Dgram.createSocket("udp4")
      socket.once("error", reject)
      socket.on("message", (message, from) => socket.send(message, from.port, from.address))
      socket.bind(0, host, () => {
        socket.off("error", reject)
        socket.on("error", () => {})
        resolve({ port: socket.address().port })
      })
    }),
  udpPingClient,
  udpFloodReceiver: () =>
    new Promise((resolve, reject) => {
      const socket = Dgram.createSocket("udp4")
      socket.once("error", reject)
      socket.on("message", flood.received)
      socket.bind(0, host, () => {
        socket.off("error", reject)
        socket.on("error", () => {})
        resolve({ port: socket.address().port })
      })
    }),
  udpFloodReset: flood.reset,
  udpFloodReport: flood.report,
  udpFloodSender: async (args: FloodArgs) => {
    const socket = Dgram.createSocket("udp4")
    socket.on("error", () => {})
    await new Promise<void>((resolve) => socket.connect(args.port, host, resolve))
    const payload = Buffer.alloc(args.size, 102)
    let attempts = 0
    let sent = 0
    const start = now()
    await withDeadline<void>(args.deadlineMs, "udp flood", (finish) => {
      let pending = 0
      const sendBatch = () => {
        if (attempts === args.datagrams) return finish()
        pending = Math.min(args.batch, args.datagrams - attempts)
        attempts += pending
        for (let i = pending; i > 0; i--) socket.send(payload, onSent)
      }
      const onSent = (error: Error | null) => {
        if (error === null) sent++
        if (--pending === 0) sendBatch()
      }
      sendBatch()
    })
    const seconds = (now() - start) / 1000
    socket.close()
    return { seconds, sent }
  },
  framingLines: framing("lines"),
  framingLengthPrefixed: framing("lengthPrefixed")
}
