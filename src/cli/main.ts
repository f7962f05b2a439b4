// The `dfs` command. Each subcommand lives in its own file; this one wires them up and turns any
// error into one line naming the problem and the fix (or, with --json, a JSON error document; see
// errorOutput.ts), with a non-zero exit.

import { readFileSync } from 'node:fs'
import { Command, CommanderError } from 'commander'
import { DfsError } from '../errors.js'
import { balanceCommand } from './balance.js'
import { datanodeCommand } from './datanode.js'
import { namenodeCommand } from './namenode.js'
import { demoCommand } from './demo.js'
import { drainCommand } from './drain.js'
import { errorReport, exitStatusOf, printJsonError, wantsJson } from './errorOutput.js'
import { fsckCommand } from './fsck.js'
import { infoCommand } from './info.js'
import { metaCommand } from './meta.js'
import { mountCommand } from './mount.js'
import { statusCommand } from './status.js'
import { unmountCommand } from './unmount.js'

/** commander's message as one line (its "Did you mean ...?" suggestion comes on a line of its own). */
const oneLine = (text: string) => text.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ')

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }

const program = new Command('dfs')
  .description('A replicated, chunked, crash-safe distributed file system you mount as a folder')
  .version(version, '-V, --version', 'print the dfs version')
  .showSuggestionAfterError(true)
  .exitOverride()

const commands = [mountCommand(), unmountCommand(), statusCommand(), infoCommand(), balanceCommand(), drainCommand(), fsckCommand(), datanodeCommand(), namenodeCommand(), metaCommand(), demoCommand()]
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
