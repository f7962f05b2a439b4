// dfs policy: a directory's storage policy. A minimal stand-in on the converter's branch (ec-convert)
// with only `dfs policy apply` (policyApply.ts); the CLIENT POLICY part's policy.ts (get, set)
// replaces it and adds applyCommand() to its subcommands.

import { Command } from 'commander'
import { applyCommand } from './policyApply.js'

export function policyCommand(): Command {
  return new Command('policy')
    .description('the storage policy of directories: replicas:<R> (R copies) or ec:<k>+<m> (erasure coding)')
    .addCommand(applyCommand())
}
