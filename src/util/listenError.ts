// Why a server could not listen on its address, and what to do about it: one wording for every
// listener dfs opens (a DataNode's, a NameNode's --listen, the dashboard's --http).

import { type DfsError, dfsError } from '../errors.js'
import { errnoOf } from './osError.js'

/** `shown`: the address as the user gave it, with the flag when there is one (`--http 127.0.0.1:8080`). */
export function listenError(err: Error, host: string, port: number, shown: string): DfsError {
  const errno = errnoOf(err) ?? String(err)
  const context = { listen: shown, errno }
  switch (errno) {
    case 'EADDRINUSE':
      return dfsError('BAD_ARGUMENT', `cannot listen on ${shown}: port ${port} is in use; pick another port or stop what serves it (ss -ltnp 'sport = :${port}')`, context, err)
    case 'EACCES':
      return dfsError('BAD_ARGUMENT', `cannot listen on ${shown}: port ${port} needs privileges; pick a port above 1023`, context, err)
    case 'EADDRNOTAVAIL':
      return dfsError('BAD_ARGUMENT', `cannot listen on ${shown}: ${host} is not an address of this machine; use one of its addresses, such as 127.0.0.1`, context, err)
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return dfsError('BAD_ARGUMENT', `cannot listen on ${shown}: host ${host} is unknown; use an IP address such as 127.0.0.1`, context, err)
    default:
      return dfsError('BAD_ARGUMENT', `cannot listen on ${shown} (${errno}); check the address`, context, err)
  }
}
