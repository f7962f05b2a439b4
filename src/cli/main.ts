// The `dfs` command. Each subcommand lives in its own file; this one wires them up and turns any
// error into one line naming the problem and the fix, with a non-zero exit.

import { Command, CommanderError } from 'commander'
import { DfsError } from '../errors.js'
import { balanceCommand } from './balance.js'
import { datanodeCommand } from './datanode.js'
import { demoCommand } from './demo.js'
import { drainCommand } from './drain.js'
import { fsckCommand } from './fsck.js'
import { mountCommand } from './mount.js'
import { statusCommand } from './status.js'
import { unmountCommand } from './unmount.js'

/** commander's message as one line (its "Did you mean ...?" suggestion comes on a line of its own). */
const oneLine = (text: string) => text.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ')

const program = new Command('dfs')
  .description('A replicated, chunked, crash-safe distributed file system you mount as a folder')
  .showSuggestionAfterError(true)
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(`dfs: ${oneLine(text)}\n`) })

for (const command of [mountCommand(), unmountCommand(), statusCommand(), balanceCommand(), drainCommand(), fsckCommand(), datanodeCommand(), demoCommand()]) {
  program.addCommand(command.exitOverride().configureOutput({
    outputError: (text, write) => write(`dfs ${command.name()}: ${oneLine(text)}; see dfs ${command.name()} --help\n`),
  }))
}

try {
  await program.parseAsync(process.argv)
} catch (err) {
  if (err instanceof CommanderError) {
    process.exit(err.exitCode === 0 ? 0 : 2)
  }
  if (err instanceof DfsError) {
    console.error(`dfs: ${err.message} [${err.code}]`)
  } else {
    console.error(`dfs: unexpected error: ${(err as Error)?.stack ?? err}`)
  }
  process.exit(1)
}
