// Types for the parts of fuse-native@2.2.6 that dfs uses (the package ships none).
declare module 'fuse-native' {
  type Callback = (code: number, ...results: unknown[]) => void

  export interface FuseOptions {
    force?: boolean
    mkdir?: boolean
    debug?: boolean
    allowOther?: boolean
    defaultPermissions?: boolean
    autoUnmount?: boolean
    fsname?: string
    subtype?: string
    attrTimeout?: number
    entryTimeout?: number
    /** Per-operation timeout in ms (default 15 s); false waits forever. */
    timeout?: number | false
    [option: string]: unknown
  }

  class Fuse {
    constructor(mountpoint: string, ops: Record<string, (...args: any[]) => void>, opts?: FuseOptions)
    readonly mnt: string
    /** Who made the request being answered; set before each operation by dfs's patch (native-notes/). */
    caller?: { uid: number; gid: number; pid: number }
    opts: FuseOptions
    mount(cb: (err: Error | null) => void): void
    unmount(cb: (err: Error | null) => void): void
    /** Private: the native mount's state, which the addon's unmount call needs. */
    readonly _thread: Buffer
    /** Builds the `-o` option string; dfs extends it for options fuse-native does not name. */
    _fuseOptions(): string
    /** The operations given to the constructor. */
    readonly ops: Record<string, (...args: any[]) => void>
    /** Private: answers getxattr/listxattr into the kernel's buffer (dfs corrects their ERANGE handling). */
    _op_getxattr(signal: Callback, path: string, name: string, value: Buffer, position: number): void
    _op_listxattr(signal: Callback, path: string, list: Buffer): void
    /** utimens' two times as raw 64-bit milliseconds, low and high halves (dfs decodes them itself). */
    _op_utimens(signal: Callback, path: string, atimeLow: number, atimeHigh: number, mtimeLow: number, mtimeHigh: number): void
    /**
     * Set by dfs's patch (native-notes/) when the binding passes paths, names and symlink targets
     * as latin1 strings (one char per byte), passes UTIME_OMIT to utimens as -2^63 ms, and reports
     * negative (pre-1970) times in stat. Undefined with a binding without those changes.
     */
    static dfsFeatures?: { bytePaths?: boolean; utimeOmit?: boolean; signedTimes?: boolean }
    static unmount(mountpoint: string, cb: (err: Error | null) => void): void
    static isConfigured(cb: (err: Error | null, configured: boolean) => void): void
  }
  export default Fuse
}
