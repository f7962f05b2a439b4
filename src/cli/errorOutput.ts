// How a failed command tells the user: one line on stderr naming the problem and the fix, or, when
// the command was given --json, one JSON document on stdout, {"error":{"code","message",...context}},
// so a script that reads the command's JSON reads its failure the same way. Either way the exit
// status is non-zero.

import type { Command } from 'commander'
import { DfsError } from '../errors.js'

export interface ErrorReport {
  code: string
  message: string
  [context: string]: unknown
}

/** Exit statuses: 1 for a failure; 3 for a followed balance or drain that was cancelled (not a failure). */
export const EXIT_CANCELLED = 3
export function exitStatusOf(err: unknown): number {
  return err instanceof DfsError && err.code === 'JOB_CANCELLED' ? EXIT_CANCELLED : 1
}

/** The subcommand named in argv (`dfs status ... --json`) takes --json and was given it. */
export function wantsJson(program: Command, argv: readonly string[]): boolean {
  const args = argv.slice(2)
  const end = args.indexOf('--')
  const given = (end === -1 ? args : args.slice(0, end))
  if (!given.includes('--json')) return false
  const command = program.commands.find(c => c.name() === given[0])
  return command?.options.some(o => o.long === '--json') ?? false
}

/** What an error says, as data: its code, its message and the context that explains it. */
export function errorReport(err: unknown): ErrorReport {
  // code and message first; a context key of the same name does not replace them
  if (err instanceof DfsError) return Object.assign({ code: err.code, message: err.message }, jsonSafe(err.context), { code: err.code, message: err.message })
  // A bug or an unexpected Node error: EIO, as at the FUSE edge (docs/errors.md), with its stack.
  return { code: 'EIO', message: `unexpected error: ${(err as Error)?.message ?? String(err)}`, stack: (err as Error)?.stack }
}

export function printJsonError(report: ErrorReport): void {
  process.stdout.write(`${JSON.stringify({ error: report })}\n`)
}

/** Context values that JSON cannot carry (bigint, errors) as text. */
function jsonSafe(context: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(context, (_key, value: unknown) =>
    typeof value === 'bigint' ? value.toString() : value instanceof Error ? value.message : value))
}
