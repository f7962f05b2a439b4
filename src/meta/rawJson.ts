// A checkpoint piece already in JSON form (an inode still as the text it was read as:
// namespace/inodeTable.ts): a checkpoint writes its text as it is, parsing nothing. Anything else
// that serialises it (a snapshot sent to a standby or a client) gets the value it stands for.

export class RawJson {
  constructor(readonly json: string) {}

  toJSON(): unknown {
    return JSON.parse(this.json)
  }
}
