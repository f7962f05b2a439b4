// The `dfs` command. Each subcommand lives in its own file; this one wires them up and turns any
// error into one line naming the problem and the fix, with a non-zero exit.

import { Command, CommanderError } from 'commander'
import { DfsError } from '../errors.js'
import { demoCommand } from './demo.js'
import { fsckCommand } from './fsck.js'
import { mountCommand } from './mount.js'
import { unmountCommand } from './unmount.js'

const program = new Command('dfs')
  .description('A replicated, chunked, crash-safe distributed file system you mount as a folder')
  .showSuggestionAfterError(true)
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(`dfs: ${text.replace(/^error: /, '').trim()}\n`) })

for (const command of [mountCommand(), unmountCommand(), fsckCommand(), demoCommand()]) {
  program.addCommand(command.exitOverride().configureOutput({
    outputError: (text, write) => write(`dfs ${command.name()}: ${text.replace(/^error: /, '').trim()}; see dfs ${command.name()} --help\n`),
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
