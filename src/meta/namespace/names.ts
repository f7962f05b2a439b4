// Names are bytes on Linux: anything but '/' and NUL, UTF-8 or not. dfs keeps a name as a JS string:
// its UTF-8 decoding, with every byte that is not part of valid UTF-8 kept as one lone surrogate
// U+DC80..U+DCFF (Python's "surrogateescape"). Valid UTF-8 never encodes a surrogate, so the mapping
// is one to one, every UTF-8 name is stored exactly as before, and JSON (journal, checkpoints) keeps
// lone surrogates as \udcXX escapes.

const ESCAPED = /[\udc80-\udcff]/
// ignoreBOM: a name may well start with U+FEFF, and it is part of the name.
const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** The name a file system caller's bytes stand for. */
export function decodeName(bytes: Buffer): string {
  try {
    return strict.decode(bytes)
  } catch {
    // Not UTF-8 as a whole: decode what is, escape the bytes that are not.
  }
  let out = ''
  let i = 0
  while (i < bytes.length) {
    const lead = bytes[i]!
    const len = lead < 0x80 ? 1 : lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0
    if (len > 0 && i + len <= bytes.length) {
      try {
        out += strict.decode(bytes.subarray(i, i + len))
        i += len
        continue
      } catch {
        // an invalid sequence: escape its first byte and go on from the next
      }
    }
    out += String.fromCharCode(0xdc00 + lead)
    i += 1
  }
  return out
}

/** The bytes a stored name stands for (decodeName's inverse). */
export function encodeName(name: string): Buffer {
  if (!ESCAPED.test(name)) return Buffer.from(name, 'utf8')
  const parts: Buffer[] = []
  let run = ''
  for (let i = 0; i < name.length; i++) {
    const unit = name.charCodeAt(i)
    const paired = i > 0 && name.charCodeAt(i - 1) >= 0xd800 && name.charCodeAt(i - 1) <= 0xdbff
    if (unit >= 0xdc80 && unit <= 0xdcff && !paired) {
      parts.push(Buffer.from(run, 'utf8'), Buffer.from([unit - 0xdc00]))
      run = ''
    } else {
      run += name[i]
    }
  }
  parts.push(Buffer.from(run, 'utf8'))
  return Buffer.concat(parts)
}

/** How many bytes a stored name is (what NAME_MAX and a symlink's size count). */
export function nameBytes(name: string): number {
  return ESCAPED.test(name) ? encodeName(name).length : Buffer.byteLength(name)
}
