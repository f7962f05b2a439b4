// The `dfs` command. Each subcommand lives in its own file; this one wires them up and turns any
// error into one line naming the problem and the fix (or, with --json, a JSON error document; see
// errorOutput.ts), with a non-zero exit.

import { readFileSync } from 'node:fs'
import { Command, CommanderError } from 'commander'
import { DfsError } from '../errors.js'
import { errorReport, exitStatusOf, printJsonError, wantsJson } from './errorOutput.js'

/**
 * Each subcommand, loaded only when asked for: a command's module pulls in what it runs (FUSE, the
 * NameNode, the DataNode server), and loading all of them was most of every `dfs` call's start-up.
 * In the order `dfs --help` lists them.
 */
const COMMANDS: Array<[string, () => Promise<Command>]> = [
  ['mount', async () => (await import('./mount.js')).mountCommand()],
  ['unmount', async () => (await import('./unmount.js')).unmountCommand()],
  ['status', async () => (await import('./status.js')).statusCommand()],
  ['info', async () => (await import('./info.js')).infoCommand()],
  ['policy', async () => (await import('./policy.js')).policyCommand()],
  ['balance', async () => (await import('./balance.js')).balanceCommand()],
  ['drain', async () => (await import('./drain.js')).drainCommand()],
  ['fsck', async () => (await import('./fsck.js')).fsckCommand()],
  ['datanode', async () => (await import('./datanode.js')).datanodeCommand()],
  ['namenode', async () => (await import('./namenode.js')).namenodeCommand()],
  ['meta', async () => (await import('./meta.js')).metaCommand()],
  ['demo', async () => (await import('./demo.js')).demoCommand()],
]

/** The one command named on the command line, or all of them (help, a misspelt name: commander lists or suggests). */
function commandsFor(argv: readonly string[]): Promise<Command[]> {
  const named = argv.slice(2).find(arg => !arg.startsWith('-'))
  const one = COMMANDS.find(([name]) => name === named)
  return Promise.all((one ? [one] : COMMANDS).map(([, load]) => load()))
}

/** commander's message as one line (its "Did you mean ...?" suggestion comes on a line of its own). */
const oneLine = (text: string) => text.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ')

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }

const program = new Command('dfs')
  .description('A replicated, chunked, crash-safe distributed file system you mount as a folder')
  .version(version, '-V, --version', 'print the dfs version')
  .showSuggestionAfterError(true)
  .exitOverride()

const commands = await commandsFor(process.argv)
for (const command of commands) program.addCommand(command)
const json = wantsJson(program, process.argv)

/** A usage error commander found (unknown flag, missing argument): its line, or its JSON. */
const usageError = (prefix: string, suffix: string) => (text: string, write: (s: string) => void) => {
  if (json) printJsonError({ code: 'BAD_ARGUMENT', message: `${oneLine(text)}${suffix}` })
  else write(`${prefix}: ${oneLine(text)}${suffix}\n`)
}
program.configureOutput({ outputError: usageError('dfs', '') })
/** Each command's usage errors name it, its subcommands' too (`dfs meta load: …; see dfs meta load --help`). */
const nameUsageErrors = (command: Command, name: string): void => {
  command.exitOverride().configureOutput({ outputError: usageError(`dfs ${name}`, `; see dfs ${name} --help`) })
  for (const sub of command.commands) nameUsageErrors(sub, `${name} ${sub.name()}`)
}
for (const command of commands) nameUsageErrors(command, command.name())

try {
  await program.parseAsync(process.argv)
} catch (err) {
  if (err instanceof CommanderError) {
    process.exit(err.exitCode === 0 ? 0 : 2)
  }
  if (json) printJsonError(errorReport(err))
  else if (err instanceof DfsError) console.error(`dfs: ${err.message} [${err.code}]`)
  else console.error(`dfs: unexpected error: ${(err as Error)?.stack ?? err}`)
  process.exit(exitStatusOf(err))
}
