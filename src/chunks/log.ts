// The logging the chunk layer needs: structured messages at three levels. `console` fits, and so
// does any logger the daemon provides; the default is silent.

export interface ChunkLog {
  debug(message: string, context?: Record<string, unknown>): void
  info(message: string, context?: Record<string, unknown>): void
  warn(message: string, context?: Record<string, unknown>): void
}

export const silentLog: ChunkLog = { debug() {}, info() {}, warn() {} }
