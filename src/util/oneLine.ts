// Text from outside (a client's host name and mount point, a node's address, a path) shown where one
// line is one thing: an event, a row of a dfs status table. A mount point may hold a newline, and a
// hostile client may send an escape sequence that would drive the reader's terminal; control
// characters are shown escaped (\n, \t, \r, else \uXXXX) and everything else as it is.

// C0 controls, DEL, C1 controls, and the Unicode line and paragraph separators.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g
const NAMED: Record<string, string> = { '\n': '\\n', '\t': '\\t', '\r': '\\r' }

export function oneLine(text: string): string {
  return text.replace(CONTROL, c => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}
