/**
 * The errors the simulated kernel reports, built the way NodeNetwork builds
 * them: `NetError.fromCause` given the errno a real socket call would fail
 * with, so that reason, `code`, `syscall` and message are the same on both
 * networks.
 */
import { fromCause, type SystemStep } from "../../NetError.js"

/** What a failed system call leaves behind: its errno name and the call. */
interface Errno {
  readonly code: string
  readonly syscall: string
}

/** @internal */
export const systemError = <Step extends SystemStep>(
  step: Step,
  errno: Errno,
  what: string,
  address?: string
): ReturnType<typeof fromCause<Step>> => fromCause(step, errno, { what, address })
