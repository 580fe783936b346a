/**
 * The RPC service the server offers and the client calls: one definition,
 * shared by both sides, from which @effect/rpc derives the wire format, the
 * typed client and the handlers' types.
 */
import { Rpc, RpcGroup } from "@effect/rpc"
import { Schema } from "effect"

/** Dividing by zero is an error the caller is expected to handle, so it is typed. */
export class DivisionByZero extends Schema.TaggedError<DivisionByZero>()("DivisionByZero", {
  dividend: Schema.Number
}) {}

export class Calculator extends RpcGroup.make(
  /** A unary call: one request, one reply. */
  Rpc.make("Greet", { payload: { name: Schema.String }, success: Schema.String }),
  /** A call that can fail with a typed error. */
  Rpc.make("Divide", { payload: { dividend: Schema.Number, divisor: Schema.Number }, success: Schema.Number, error: DivisionByZero }),
  /** A streaming call: the reply is a stream of values, ended by the server. */
  Rpc.make("Countdown", { payload: { from: Schema.Int }, success: Schema.Int, stream: true })
) {}

/** The port the example uses unless told otherwise. */
export const defaultPort = 7008
