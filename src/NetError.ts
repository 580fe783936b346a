/**
 * The typed errors of effect-net: one `Schema.TaggedError` per lifecycle step
 * (`BindError`, `AcceptError`, `ConnectError`, `ReadError`, …), each with a
 * closed `reason`, a `message` that says what failed and where, and where
 * known the `address`, the errno `code`, the `syscall` and the `cause`.
 *
 * Errors are schemas so they survive serialization (RPC, logs) intact.
 *
 * @since 0.1.0
 */
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"

/**
 * Marks every effect-net error, whichever class: see `isNetError`.
 *
 * @since 0.2.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("effect-net/NetError")

/**
 * The type of `TypeId`.
 *
 * @since 0.2.0
 * @category type ids
 */
export type TypeId = typeof TypeId

const detailFields = {
  message: Schema.String,
  /** The address the step was about, formatted as `host:port`. */
  address: Schema.optional(Schema.String),
  /** The errno name, such as `ECONNREFUSED`, kept even when the reason is `Unknown`. */
  code: Schema.optional(Schema.String),
  syscall: Schema.optional(Schema.String),
  cause: Schema.optional(Schema.Defect)
}

/**
 * Why parsing or validating an address failed: the closed set of `reason`s of `AddressError`.
 *
 * @since 0.1.0
 * @category reasons
 */
export const AddressErrorReason = Schema.Literal("InvalidHost", "InvalidPort", "HostNotFound")

/**
 * A host or port that is malformed or does not resolve; raised before any
 * socket is opened.
 *
 * @since 0.1.0
 * @category errors
 */
export class AddressError extends Schema.TaggedError<AddressError>("effect-net/AddressError")("AddressError", {
  reason: AddressErrorReason,
  ...detailFields
}) {
  /** @internal */
  readonly [TypeId]: TypeId = TypeId
}

/**
 * Why binding or listening failed: the closed set of `reason`s of `BindError`.
 *
 * @since 0.1.0
 * @category reasons
 */
export const BindErrorReason = Schema.Literal(
  "AddressInUse",
  "AddressNotAvailable",
  "PermissionDenied",
  "InvalidAddress",
  "InvalidArgument",
  "Unknown"
)

/**
 * `bind()` / `listen()` failed. `InvalidArgument` is an option out of range
 * (a negative backlog, a malformed duration), found before any socket opens.
 *
 * @since 0.1.0
 * @category errors
 */
export class BindError extends Schema.TaggedError<BindError>("effect-net/BindError")("BindError", {
  reason: BindErrorReason,
  ...detailFields
}) {
  /** @internal */
  readonly [TypeId]: TypeId = TypeId
}

/**
 * Why accepting a connection failed: the closed set of `reason`s of `AcceptError`.
 *
 * @since 0.1.0
 * @category reasons
 */
export const AcceptErrorReason = Schema.Literal("Closed", "InvalidArgument", "Unknown")

/**
 * `accept()` failed, or the listener was closed. `InvalidArgument` is a
 * `Tcp.serve` option out of range (`concurrency`, `shutdownTimeout`).
 *
 * @since 0.1.0
 * @category errors
 */
export class AcceptError extends Schema.TaggedError<AcceptError>("effect-net/AcceptError")("AcceptError", {
  reason: AcceptErrorReason,
  ...detailFields
}) {
  /** @internal */
  readonly [TypeId]: TypeId = TypeId
}

/**
 * Why connecting failed: the closed set of `reason`s of `ConnectError`.
 *
 * @since 0.1.0
 * @category reasons
 */
export const ConnectErrorReason = Schema.Literal(
  "ConnectionRefused",
  "ConnectionReset",
  "TimedOut",
  "HostUnreachable",
  "NetworkUnreachable",
  "HostNotFound",
  "InvalidAddress",
  "InvalidArgument",
  "Unknown"
)

/**
 * `connect()` failed. `ConnectionReset`: the peer or its listener reset the
 * connection while it was being set up (a listener closing with connections
 * still queued, a server that resets at once). `InvalidArgument` is an
 * option out of range (a malformed timeout), found before any socket opens.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectError extends Schema.TaggedError<ConnectError>("effect-net/ConnectError")("ConnectError", {
  reason: ConnectErrorReason,
  ...detailFields
}) {
  /** @internal */
  readonly [TypeId]: TypeId = TypeId
}

/**
 * Why reading from a TCP connection failed: the closed set of `reason`s of `ReadError`.
 *
 * @since 0.1.0
 * @category reasons
 */
export const ReadErrorReason = Schema.Literal("ConnectionReset", "TimedOut", "InvalidArgument", "Unknown")

/**
 * Reading from a TCP connection failed. A clean end of stream (EOF) is not an
 * error.
 *
 * @since 0.1.0
 * @category errors
 */
export class ReadError extends Schema.TaggedError<ReadError>("effect-net/ReadError")("ReadError", {
  reason: ReadErrorReason,
  ...detailFields
}) {
  /** @internal */
  readonly [TypeId]: TypeId = TypeId
}

/**
 * Why writing to a TCP connection failed: the closed set of `reason`s of `WriteError`.
 *
 * @since 0.1.0
 * @category reasons
 */
export const WriteErrorReason = Schema.Literal("ConnectionReset", "BrokenPipe", "Closed", "TimedOut", "InvalidArgument", "Unknown")

/**
 * Writing to a TCP connection failed, or it was closed for writing.
 * `TimedOut`: with `idleTimeout` set, the peer took nothing for that long.
 * `InvalidArgument`: the data is neither a `Uint8Array` nor a string (a
 * JavaScript caller); nothing was written and the connection goes on.
 *
 * @since 0.1.0
 * @category errors
 */
export class WriteError extends Schema.TaggedError<WriteError>("effect-net/WriteError")("WriteError", {
  reason: WriteErrorReason,
  ...detailFields
}) {
  /** @internal */
  readonly [TypeId]: TypeId = TypeId
}

/**
 * Why sending a UDP datagram failed: the closed set of `reason`s of `SendError`.
 *
 * @since 0.1.0
 * @category reasons
 */
export const SendErrorReason = Schema.Literal(
  "MessageTooLarge",
  "HostUnreachable",
  "NetworkUnreachable",
  "PermissionDenied",
  "InvalidAddress",
  "HostNotFound",
  "ConnectionRefused",
  "Closed",
  "InvalidArgument",
  "Unknown"
)

/**
 * Sending a UDP datagram failed. `InvalidArgument`: the payload is neither
 * a `Uint8Array` nor a string (a JavaScript caller); nothing was sent.
 *
 * @since 0.1.0
 * @category errors
 */
export class SendError extends Schema.TaggedError<SendError>("effect-net/SendError")("SendError", {
  reason: SendErrorReason,
  ...detailFields
}) {
  /** @internal */
  readonly [TypeId]: TypeId = TypeId
}

/**
 * Why receiving a UDP datagram failed: the closed set of `reason`s of `ReceiveError`.
 *
 * @since 0.1.0
 * @category reasons
 */
export const ReceiveErrorReason = Schema.Literal("ConnectionRefused", "Closed", "InvalidArgument", "Unknown")

/**
 * Receiving a UDP datagram failed. `ConnectionRefused` is the ICMP port
 * unreachable that a connected socket reports when its peer is not there.
 *
 * @since 0.1.0
 * @category errors
 */
export class ReceiveError extends Schema.TaggedError<ReceiveError>("effect-net/ReceiveError")("ReceiveError", {
  reason: ReceiveErrorReason,
  ...detailFields
}) {
  /** @internal */
  readonly [TypeId]: TypeId = TypeId
}

/**
 * Why joining or leaving a multicast group failed: the closed set of `reason`s of `MulticastError`.
 *
 * @since 0.1.0
 * @category reasons
 */
export const MulticastErrorReason = Schema.Literal("InvalidGroup", "AddressNotAvailable", "Unknown")

/**
 * Joining or leaving a multicast group failed.
 *
 * @since 0.1.0
 * @category errors
 */
export class MulticastError extends Schema.TaggedError<MulticastError>("effect-net/MulticastError")("MulticastError", {
  reason: MulticastErrorReason,
  ...detailFields
}) {
  /** @internal */
  readonly [TypeId]: TypeId = TypeId
}

/**
 * Why decoding a frame failed: the closed set of `reason`s of `FrameError`.
 *
 * @since 0.1.0
 * @category reasons
 */
export const FrameErrorReason = Schema.Literal("FrameTooLarge", "TruncatedFrame", "InvalidFrame")

/**
 * A `Framing` decoder met a frame over its limit, bytes left over at end of
 * stream, or a message that does not parse.
 *
 * @since 0.1.0
 * @category errors
 */
export class FrameError extends Schema.TaggedError<FrameError>("effect-net/FrameError")("FrameError", {
  reason: FrameErrorReason,
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {
  /** @internal */
  readonly [TypeId]: TypeId = TypeId
}

/**
 * Every error effect-net raises, as one Schema: a union discriminated by
 * `_tag`, usable wherever a Schema of errors is wanted (an @effect/rpc
 * `error` schema, a log or a queue that must keep errors intact).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { NetError } from "effect-net"
 *
 * const encoded = Schema.encodeSync(NetError.NetError)(
 *   new NetError.ConnectError({ reason: "ConnectionRefused", message: "connect to 127.0.0.1:9 failed" })
 * )
 * const decoded = Schema.decodeUnknownSync(NetError.NetError)(encoded) // a ConnectError again
 * ```
 *
 * @since 0.2.0
 * @category schemas
 */
export const NetError = Schema.Union(
  AddressError,
  BindError,
  AcceptError,
  ConnectError,
  ReadError,
  WriteError,
  SendError,
  ReceiveError,
  MulticastError,
  FrameError
)

/**
 * Any error effect-net raises.
 *
 * @since 0.1.0
 * @category models
 */
export type NetError = typeof NetError.Type

/**
 * Whether a value is an error effect-net raised, of any step.
 *
 * @since 0.2.0
 * @category guards
 */
export const isNetError = (u: unknown): u is NetError => Predicate.hasProperty(u, TypeId)

/**
 * The errno → reason tables, one per step. Codes not listed map to
 * `"Unknown"` and the code is kept on the error.
 *
 * @since 0.1.0
 * @category errno
 */
export const errnoReasons = {
  AddressError: {
    ENOTFOUND: "HostNotFound",
    EAI_NONAME: "HostNotFound",
    EAI_AGAIN: "HostNotFound",
    EAI_FAIL: "HostNotFound",
    EAI_NODATA: "HostNotFound"
  },
  BindError: {
    EADDRINUSE: "AddressInUse",
    EADDRNOTAVAIL: "AddressNotAvailable",
    EACCES: "PermissionDenied",
    EPERM: "PermissionDenied",
    EINVAL: "InvalidAddress",
    EAFNOSUPPORT: "InvalidAddress",
    ERR_INVALID_ARG_VALUE: "InvalidAddress",
    ERR_SOCKET_BAD_PORT: "InvalidAddress"
  },
  AcceptError: {
    ERR_SERVER_NOT_RUNNING: "Closed"
  },
  ConnectError: {
    ECONNREFUSED: "ConnectionRefused",
    ECONNRESET: "ConnectionReset",
    ECONNABORTED: "ConnectionReset",
    ETIMEDOUT: "TimedOut",
    EHOSTUNREACH: "HostUnreachable",
    EHOSTDOWN: "HostUnreachable",
    ENETUNREACH: "NetworkUnreachable",
    ENETDOWN: "NetworkUnreachable",
    ENOTFOUND: "HostNotFound",
    EAI_NONAME: "HostNotFound",
    EAI_AGAIN: "HostNotFound",
    EAI_FAIL: "HostNotFound",
    EAI_NODATA: "HostNotFound",
    EADDRNOTAVAIL: "InvalidAddress",
    EAFNOSUPPORT: "InvalidAddress",
    EINVAL: "InvalidAddress",
    ERR_SOCKET_BAD_PORT: "InvalidAddress",
    ERR_INVALID_IP_ADDRESS: "InvalidAddress"
  },
  ReadError: {
    ECONNRESET: "ConnectionReset",
    ECONNABORTED: "ConnectionReset",
    EPIPE: "ConnectionReset",
    ETIMEDOUT: "TimedOut"
  },
  WriteError: {
    ECONNRESET: "ConnectionReset",
    ECONNABORTED: "ConnectionReset",
    EPIPE: "BrokenPipe",
    ERR_STREAM_DESTROYED: "Closed",
    ERR_STREAM_WRITE_AFTER_END: "Closed",
    ERR_SOCKET_CLOSED: "Closed"
  },
  SendError: {
    EMSGSIZE: "MessageTooLarge",
    ERR_OUT_OF_RANGE: "MessageTooLarge",
    EHOSTUNREACH: "HostUnreachable",
    EHOSTDOWN: "HostUnreachable",
    ENETUNREACH: "NetworkUnreachable",
    ENETDOWN: "NetworkUnreachable",
    EACCES: "PermissionDenied",
    EPERM: "PermissionDenied",
    EINVAL: "InvalidAddress",
    EAFNOSUPPORT: "InvalidAddress",
    EADDRNOTAVAIL: "InvalidAddress",
    EDESTADDRREQ: "InvalidAddress",
    ERR_SOCKET_BAD_PORT: "InvalidAddress",
    ERR_INVALID_ARG_TYPE: "InvalidAddress",
    ENOTFOUND: "HostNotFound",
    EAI_NONAME: "HostNotFound",
    EAI_AGAIN: "HostNotFound",
    ECONNREFUSED: "ConnectionRefused",
    ERR_SOCKET_DGRAM_NOT_RUNNING: "Closed",
    ERR_SOCKET_DGRAM_NOT_CONNECTED: "InvalidAddress"
  },
  ReceiveError: {
    ECONNREFUSED: "ConnectionRefused",
    ERR_SOCKET_DGRAM_NOT_RUNNING: "Closed"
  },
  MulticastError: {
    EINVAL: "InvalidGroup",
    ERR_INVALID_ARG_TYPE: "InvalidGroup",
    EADDRNOTAVAIL: "AddressNotAvailable",
    ENODEV: "AddressNotAvailable"
  }
} as const satisfies {
  readonly AddressError: Record<string, typeof AddressErrorReason.Type>
  readonly BindError: Record<string, typeof BindErrorReason.Type>
  readonly AcceptError: Record<string, typeof AcceptErrorReason.Type>
  readonly ConnectError: Record<string, typeof ConnectErrorReason.Type>
  readonly ReadError: Record<string, typeof ReadErrorReason.Type>
  readonly WriteError: Record<string, typeof WriteErrorReason.Type>
  readonly SendError: Record<string, typeof SendErrorReason.Type>
  readonly ReceiveError: Record<string, typeof ReceiveErrorReason.Type>
  readonly MulticastError: Record<string, typeof MulticastErrorReason.Type>
}

const errorClasses = {
  AddressError,
  BindError,
  AcceptError,
  ConnectError,
  ReadError,
  WriteError,
  SendError,
  ReceiveError,
  MulticastError
} as const

/**
 * The steps whose failures come from the operating system.
 *
 * @since 0.1.0
 * @category errno
 */
export type SystemStep = keyof typeof errorClasses

/**
 * The `code` and `syscall` of a Node system error, when `cause` is one.
 *
 * @since 0.1.0
 * @category errno
 */
export const systemErrorDetails = (cause: unknown): { readonly code?: string; readonly syscall?: string } => ({
  ...(Predicate.hasProperty(cause, "code") && typeof cause.code === "string" ? { code: cause.code } : {}),
  ...(Predicate.hasProperty(cause, "syscall") && typeof cause.syscall === "string" ? { syscall: cause.syscall } : {})
})

/**
 * The reason a step's errno code maps to; `"Unknown"` for codes the step's
 * table does not list.
 *
 * @since 0.1.0
 * @category errno
 */
export const reasonFor = <Step extends SystemStep>(
  step: Step,
  code: string | undefined
): InstanceType<(typeof errorClasses)[Step]>["reason"] => {
  const table: Record<string, string> = errnoReasons[step]
  return (code !== undefined && code in table ? table[code] : step === "AddressError" ? "HostNotFound" : "Unknown") as never
}

/**
 * Builds the step's error from whatever Node raised: the reason from the
 * errno table, `code` and `syscall` kept, and a message of the form
 * `"<what> <address> failed: <reason> (<code>)"` unless one is given.
 *
 * @since 0.1.0
 * @category errno
 */
export const fromCause = <Step extends SystemStep>(
  step: Step,
  cause: unknown,
  context: { readonly what: string; readonly address?: string | undefined; readonly message?: string | undefined }
): InstanceType<(typeof errorClasses)[Step]> => {
  const details = systemErrorDetails(cause)
  const reason = reasonFor(step, details.code)
  const where = context.address === undefined ? context.what : `${context.what} ${context.address}`
  const message = context.message ??
    `${where} failed: ${describe(reason)}${details.code === undefined ? causeText(cause) : ` (${details.code})`}`
  const ErrorClass = errorClasses[step] as unknown as new(props: object) => InstanceType<(typeof errorClasses)[Step]>
  return new ErrorClass({
    reason,
    message,
    ...(context.address === undefined ? {} : { address: context.address }),
    ...details,
    cause
  })
}

const causeText = (cause: unknown): string =>
  cause instanceof Error && cause.message.length > 0 ? ` (${cause.message})` : ""

const describe = (reason: string): string =>
  reason === "Unknown" ? "unexpected error" : reason.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase()
